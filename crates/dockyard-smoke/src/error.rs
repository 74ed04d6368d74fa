//! The crate's errors: [`SmokeError`], what stops a smoke run (or `run_command`) from even starting or finishing,
//! and [`HttpError`], what went wrong in one HTTP exchange with a container.
//!
//! Check failures are neither: a wrong status or a missing header is a [`crate::Mismatch`] or a failed
//! [`crate::CheckResult`], and an [`HttpError`] only ever becomes the `actual` of a failed check.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What stops a smoke run: the engine failed, a report could not be written, an image is gone, or the
/// migrations of `run_command` failed. Failed checks are not errors: they are in the report.
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    /// The engine failed or could not be reached.
    #[error(transparent)]
    Engine(#[from] dockyard_engine::EngineError),
    /// A backing service of `[services.<name>]` did not start, never became ready, or runs the wrong version or
    /// password.
    #[error(transparent)]
    Service(#[from] dockyard_services::ServiceError),
    /// A file the run reads or writes (reports, a file downloaded from a container).
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What the run was doing, as a lowercase fragment.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image the run needs is not in the engine (removed since it was built).
    #[error("image {reference} is not in the engine")]
    ImageMissing {
        /// The image's tag.
        reference: String,
    },
    /// `run_command`'s migrations failed, so the command was not run.
    #[error("migrations failed with exit code {exit_code}\n--- last {} lines of the migration output ---\n{}", tail.len(), tail.join("\n"))]
    MigrationFailed {
        /// Exit code of `manage.py migrate`.
        exit_code: i64,
        /// The last lines of its output.
        tail: Vec<String>,
    },
}

impl SmokeError {
    /// A short, actionable suggestion for the user, when the fix is obvious.
    pub fn hint(&self) -> Option<String> {
        match self {
            SmokeError::Engine(error) => error.hint(),
            SmokeError::Service(error) => error.hint(),
            SmokeError::ImageMissing { .. } => {
                Some("run `cargo xtask build` to build the images again".to_owned())
            }
            SmokeError::MigrationFailed { .. } => Some(
                "the migration output above shows the failing migration; run `python manage.py migrate` locally".to_owned(),
            ),
            SmokeError::Io { .. } => None,
        }
    }

    /// Whether the engine could not be reached (or the connection to it dropped).
    pub fn is_engine_unreachable(&self) -> bool {
        match self {
            SmokeError::Engine(error) => error.is_unreachable(),
            SmokeError::Service(dockyard_services::ServiceError::Engine(error)) => {
                error.is_unreachable()
            }
            _ => false,
        }
    }
}

/// Everything that can go wrong while sending a request and reading the response.
///
/// Messages are lowercase fragments without a trailing period, so callers can prefix or chain
/// them. Variants with an obvious fix also carry a hint, see [`HttpError::hint`].
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Nothing listens on the address (the connection was actively refused).
    #[error("connection to {address} refused")]
    ConnectionRefused {
        /// The address that was dialled.
        address: SocketAddr,
    },

    /// Connecting failed for another reason than a refusal (unreachable network, reset, ...).
    #[error("cannot connect to {address}")]
    Connect {
        /// The address that was dialled.
        address: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The server closed (or reset) the connection without answering (what nginx's `return 444`
    /// looks like to a client).
    #[error("{address} closed the connection without a response to {path}")]
    NoResponse {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
    },

    /// The whole exchange (connect, send, read to the end) took longer than allowed.
    #[error("no complete response from {address} to {path} within {} ms", timeout.as_millis())]
    Timeout {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// The limit that was exceeded.
        timeout: Duration,
    },

    /// The exchange broke for another reason.
    #[error("the exchange with {address} for {path} failed: {reason}")]
    Exchange {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// What went wrong, as hyper describes it.
        reason: String,
    },

    /// The bytes received are not an HTTP/1.x response.
    #[error("malformed response to {path} from {address}: {reason}")]
    MalformedResponse {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// What is wrong with it, as a lowercase fragment.
        reason: String,
    },

    /// The response body grew past [`crate::http::MAX_RESPONSE_BYTES`].
    #[error("response to {path} from {address} is larger than {limit_bytes} bytes")]
    ResponseTooLarge {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// The limit that was exceeded.
        limit_bytes: usize,
    },

    /// The request cannot be written (a line break in a header, a path without a leading `/`, a
    /// header the client sets itself, ...).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with it, as a lowercase fragment.
        reason: String,
    },
}

impl HttpError {
    /// A short, actionable suggestion for the user, when the fix is obvious.
    pub fn hint(&self) -> Option<String> {
        match self {
            HttpError::ConnectionRefused { .. } => Some(
                "the container is not listening yet, or listens on another port; check its logs and its published ports"
                    .to_owned(),
            ),
            HttpError::Timeout { .. } => Some(
                "the server accepted the connection but did not finish answering; check the container's logs, or raise the timeout"
                    .to_owned(),
            ),
            HttpError::NoResponse { .. } => Some(
                "expected for a request nginx drops on purpose (unknown Host); otherwise check the container's logs"
                    .to_owned(),
            ),
            HttpError::InvalidRequest { .. } => {
                Some("fix the check's path, host or headers".to_owned())
            }
            _ => None,
        }
    }
}
