//! The crate's error type, [`ImageError`].

use std::path::PathBuf;

/// What can go wrong while writing a layer, a configuration or an archive.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file could not be read, written or listed.
    #[error("{operation} {}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        operation: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A path inside the image that is not a plain relative path (`..`, empty, or not UTF-8).
    #[error("{path:?} is not a path an image may hold")]
    BadPath {
        /// The path as given.
        path: String,
    },
    /// Two different entries were given for one path of a layer.
    #[error("two entries for /{path} in one layer")]
    Duplicate {
        /// The path inside the image.
        path: String,
    },
    /// A `docker save` archive that does not say where its layers are.
    #[error("{} is not an image archive: {reason}", path.display())]
    NotAnArchive {
        /// The archive.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
}

impl ImageError {
    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io {
            operation,
            path,
            source,
        }
    }
}
