//! Images written, not built: deterministic layer tarballs ([`LayerBuilder`]), the image configuration
//! ([`ImageConfig`], whose sha256 is the image id) and the `docker save` archive the Engine API loads
//! ([`write_archive`]).
//!
//! Nothing here talks to an engine or runs a container: the same files, modes and configuration always give the same
//! bytes, so the same inputs always give the same image id (the way ko, jib and rules_oci assemble images). An archive
//! may leave out the files of layers the engine already holds: the engine reads a layer's file only when it lacks the
//! layer.
#![warn(missing_docs)]

mod archive;
mod config;
mod error;
mod layer;
mod platform;

pub use archive::{read_saved_layers, write_archive, ArchiveLayer};
pub use config::{with_env, Healthcheck, HistoryEntry, ImageConfig, RootFs, RuntimeConfig};
pub use error::ImageError;
pub use layer::{Layer, LayerBuilder, Owner};
pub use platform::{oci_architecture, oci_variant, retarget_saved_image};
