//! Publishing images that passed every gate: tags, pushes with bounded retries, digests read back through the
//! engine, moving tags moved last, image archives when there is no registry, `release.json`, and registry
//! credentials from the environment or the Docker config.
//!
//! The crate knows nothing of the pipeline: the caller fills a [`Publication`] (the engine, the images with their
//! ids, the context, the bases, the scan and smoke summaries, where the outputs go) and hands it to [`publish`].
//! [`preflight`] runs before anything is built: it refuses a dirty tree and works out the [`Version`].
//! Nothing is printed here: progress goes through the caller's [`Progress`].
#![warn(missing_docs)]

mod archive;
pub mod attachments;
pub mod credentials;
mod error;
pub mod git;
pub mod index;
pub mod manifest;
mod preflight;
mod progress;
pub mod provenance;
mod publish;
pub mod signing;

pub use crate::credentials::{resolve_credentials, CredentialsError};
pub use crate::error::ReleaseError;
pub use crate::manifest::ReleaseManifest;
pub use crate::preflight::{preflight, Preflight, Version};
pub use crate::progress::Progress;
pub use crate::publish::{
    publish, ImageToRelease, Mode, PlatformImage, Publication, ReleaseOptions, RetryPolicy,
    REGISTRY_ENV,
};
