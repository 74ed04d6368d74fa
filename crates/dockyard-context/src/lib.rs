//! Deterministic build-context tarballs for Dockyard: walking, filtering, packing, safe unpacking and digests.
//!
//! Everything here is synchronous and local: no network, no Docker. The central invariant is that
//! a packed tarball is a pure function of relative paths, file bytes and normalised modes, so its
//! sha256 can key caches and be compared across hosts:
//!
//! * [`pack_source_tree`] packs a Django project tree, honouring a `.dockerignore` (with Docker's
//!   anchored semantics) and a secret deny list ([`BUILTIN_DENY`] plus
//!   [`SourceRules::extra_deny`]) that always wins;
//! * [`pack_tree`] packs a folder as-is (e.g. one exported from a builder container);
//! * [`pack_source_paths`] packs chosen paths of a source tree under the same rules (`cargo xtask dev`'s sync);
//! * [`pack_members`] packs in-memory files (a rendered Dockerfile, small scripts);
//! * gzip is deflated in parallel in fixed 256 KiB blocks, each primed with the previous block's
//!   last 32 KiB, into one gzip member; the `*_with_threads` variants pick the thread count, which
//!   never changes the bytes;
//! * [`write_tarball_file`] writes any of those to disk atomically with a `.sha256` sidecar;
//! * [`unpack_archive_safely`] extracts an untrusted tar stream without ever writing outside the
//!   destination;
//! * [`sha256_file`] hashes a file, streamed.
//!
//! Nothing is printed: functions return data and [`ContextError`]s (with
//! [`ContextError::hint`]); the caller decides what to show.
#![warn(missing_docs)]

mod deny;
mod digest;
mod dockerignore;
mod env_files;
mod error;
mod lexical_paths;
mod members;
mod pack;
mod parallel_gzip;
mod partial;
mod source_tree;
mod tarball_file;
mod unpack;

pub use deny::BUILTIN_DENY;
pub use digest::{archive_tree_sha256, sha256_file, sha256_hex, tree_sha256};
pub use dockerignore::dockerignore_pattern_to_gitignore;
pub use error::ContextError;
pub use members::Member;
pub use pack::{
    pack_members, pack_members_with_threads, pack_source_tree, pack_source_tree_with_threads,
    pack_tree, pack_tree_with_threads, PackOptions, PackSummary,
};
pub use parallel_gzip::default_compression_threads;
pub use partial::{pack_source_paths, PartialPack};
pub use source_tree::{Excluded, SourceRules, DEFAULT_MAX_SOURCE_FILE_BYTES};
pub use tarball_file::write_tarball_file;
pub use unpack::{unpack_archive_safely, UnpackSummary};
