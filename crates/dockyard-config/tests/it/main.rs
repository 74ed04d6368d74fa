//! The one integration test binary: fixture projects on disk, parsed and snapshotted.

mod broken;
mod broken_dependencies;
mod fixture;
mod image_references;
mod real_deploy_toml;
mod resolved;
