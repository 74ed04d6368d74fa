//! The crate's one error type, [`SmokeError`]: what can go wrong while talking HTTP to a container.
//!
//! Check failures are not errors: a wrong status or a missing header is a [`crate::Mismatch`] or a
//! failed [`crate::CheckResult`]. Errors are for exchanges that produced no usable response at
//! all, and for requests that cannot be sent as written.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything that can go wrong while sending a request and reading the response.
///
/// Messages are lowercase fragments without a trailing period, so callers can prefix or chain
/// them. Variants with an obvious fix also carry a hint, see [`SmokeError::hint`].
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
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

    /// The server closed the connection without sending a single byte (what nginx's `return 444`
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

    /// The request could not be written, and the server sent nothing back.
    #[error("cannot send the request for {path} to {address}")]
    Send {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// Reading the response failed part-way.
    #[error("cannot read the response to {path} from {address}")]
    Receive {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The bytes received are not an HTTP/1.x response this client understands.
    #[error("malformed response to {path} from {address}: {reason}")]
    MalformedResponse {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// What is wrong with it, as a lowercase fragment.
        reason: String,
    },

    /// The response grew past [`crate::http::MAX_RESPONSE_BYTES`].
    #[error("response to {path} from {address} is larger than {limit_bytes} bytes")]
    ResponseTooLarge {
        /// The address that was dialled.
        address: SocketAddr,
        /// The request path.
        path: String,
        /// The limit that was exceeded.
        limit_bytes: usize,
    },

    /// The request cannot be written as HTTP/1.0 (a line break in a header, a path without a
    /// leading `/`, a header the client sets itself, ...).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with it, as a lowercase fragment.
        reason: String,
    },
}

impl SmokeError {
    /// A short, actionable suggestion for the user, when the fix is obvious.
    pub fn hint(&self) -> Option<String> {
        match self {
            SmokeError::ConnectionRefused { .. } => Some(
                "the container is not listening yet, or listens on another port; check its logs and its published ports"
                    .to_string(),
            ),
            SmokeError::Timeout { .. } => Some(
                "the server accepted the connection but did not finish answering; check the container's logs, or raise the timeout"
                    .to_string(),
            ),
            SmokeError::NoResponse { .. } => Some(
                "expected for a request nginx drops on purpose (unknown Host); otherwise check the container's logs"
                    .to_string(),
            ),
            SmokeError::InvalidRequest { .. } => {
                Some("fix the check's path, host or headers".to_string())
            }
            _ => None,
        }
    }
}
