//! [`ReleaseError`]: why a release refused to start or stopped, with a hint.

use std::path::PathBuf;

use crate::CredentialsError;

/// What stopped a release or a check.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The git tree has uncommitted changes and `--allow-dirty` was not given.
    #[error("release refused: the git tree has uncommitted changes")]
    DirtyTree,
    /// The version is not a valid image tag.
    #[error("release refused: `{version}` is not a valid image tag")]
    InvalidVersion {
        /// The version as given or found.
        version: String,
    },
    /// deploy.toml has no `[release]` table.
    #[error("release refused: deploy.toml has no [release] table")]
    NoReleaseTable,
    /// deploy.toml has no `[scan]` table, and a release never ships unscanned images.
    #[error(
        "release refused: deploy.toml has no [scan] table: a release never ships unscanned images"
    )]
    Unscanned,
    /// A push failed for good (a permanent error, or transient errors past the last attempt), or the registry
    /// holds another digest than the push reported.
    #[error("pushing {reference} failed after {attempts} attempts: {message}")]
    PushFailed {
        /// The reference being pushed.
        reference: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// `[release] signing_key_env` names a variable that is unset or empty.
    #[error("release refused: the provenance signing key variable {variable} is not set")]
    SigningKeyMissing {
        /// The variable's name.
        variable: String,
    },
    /// The signing key is not an Ed25519 private key in PKCS#8 PEM.
    #[error(
        "release refused: {variable} does not hold an Ed25519 private key in PKCS#8 PEM ({reason})"
    )]
    SigningKeyInvalid {
        /// The variable's name.
        variable: String,
        /// Why the parser refused it (never the key).
        reason: String,
    },
    /// Registry credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The engine failed (tagging, pushing, exporting) or could not be reached.
    #[error(transparent)]
    Engine(#[from] dockyard_engine::EngineError),
    /// An image archive could not be hashed.
    #[error(transparent)]
    Context(#[from] dockyard_context::ContextError),
    /// The image carrying an SBOM could not be written.
    #[error(transparent)]
    Image(#[from] dockyard_image::ImageError),
    /// A file the release writes.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What the release was doing, as a lowercase fragment.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ReleaseError {
    /// Whether the release refused to start (nothing was tagged or pushed): a dirty tree, an invalid version,
    /// no `[release]` or no `[scan]` table.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ReleaseError::DirtyTree
                | ReleaseError::InvalidVersion { .. }
                | ReleaseError::NoReleaseTable
                | ReleaseError::Unscanned
        )
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReleaseError::DirtyTree => Some(
                "commit them, or pass --allow-dirty (release.json records that the tree was dirty)"
                    .to_owned(),
            ),
            ReleaseError::InvalidVersion { .. } => Some(
                "pass --version with letters, digits, `.`, `_` and `-`, for example --version 1.2.3"
                    .to_owned(),
            ),
            ReleaseError::NoReleaseTable => Some(
                "add [release] with tags and moving_tags (see the repository's deploy.toml)"
                    .to_owned(),
            ),
            ReleaseError::Unscanned => {
                Some("add [scan] with trivy_version (see the repository's deploy.toml)".to_owned())
            }
            ReleaseError::PushFailed { .. } => Some(
                "no moving tag was moved; check the registry and the credentials ([release] username_env / password_env), then run the release again".to_owned(),
            ),
            ReleaseError::SigningKeyMissing { variable } => Some(format!(
                "export {variable} with the key's PEM text (`openssl genpkey -algorithm ed25519` makes one; in CI, a secret), or remove [release] signing_key_env to push the provenance unsigned"
            )),
            ReleaseError::SigningKeyInvalid { variable, .. } => Some(format!(
                "{variable} must hold the whole `-----BEGIN PRIVATE KEY-----` block of an Ed25519 key (`openssl genpkey -algorithm ed25519 -out key.pem`)"
            )),
            ReleaseError::Credentials(error) => error.hint(),
            ReleaseError::Engine(error) => error.hint(),
            ReleaseError::Context(error) => error.hint(),
            ReleaseError::Image(_) | ReleaseError::Io { .. } => None,
        }
    }
}
