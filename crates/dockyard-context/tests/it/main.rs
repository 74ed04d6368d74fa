//! Integration tests for dockyard-context: determinism, filtering, symlinks, special files, members, parallel gzip, tarball files, tree digests and safe unpacking.

mod bad_source_trees;
mod deny_list;
mod determinism;
mod dockerignore;
mod members;
mod parallel_gzip;
mod special_files;
mod support;
mod symlinks;
mod tarball_file;
mod tree_digest;
mod unpack;
