//! The engine crate's one error type, with the operation and the object it is about as data.

/// What went wrong while talking to the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine did not answer at all.
    #[error("cannot reach the docker engine at {host}: {reason}")]
    Unreachable {
        /// `DOCKER_HOST` or the default socket.
        host: String,
        /// What the client said.
        reason: String,
    },
    /// The connection dropped in the middle of an operation (for example, the engine restarted).
    #[error("{operation}: lost the connection to the docker engine at {host}: {reason}")]
    ConnectionLost {
        /// What Dockyard was doing.
        operation: String,
        /// `DOCKER_HOST` or the default socket.
        host: String,
        /// What the client said.
        reason: String,
    },
    /// The engine answered with an error status.
    #[error("{operation}: the engine answered {status}: {message}")]
    Api {
        /// What Dockyard was doing, as a lowercase fragment.
        operation: String,
        /// HTTP status code.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// A build, pull or import stream reported an error.
    #[error("{operation}: {message}")]
    Stream {
        /// What Dockyard was doing.
        operation: String,
        /// The engine's message, for example the failing build step.
        message: String,
    },
    /// Reading or writing a local file failed.
    #[error("{operation}: {source}")]
    Io {
        /// What Dockyard was doing, naming the file.
        operation: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else the client reported.
    #[error("{operation}: {message}")]
    Other {
        /// What Dockyard was doing.
        operation: String,
        /// The client's message.
        message: String,
    },
}

impl EngineError {
    pub(crate) fn from_bollard(
        operation: impl Into<String>,
        error: bollard::errors::Error,
    ) -> EngineError {
        use bollard::errors::Error;
        let operation = operation.into();
        match error {
            Error::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Api {
                operation,
                status: status_code,
                message,
            },
            Error::DockerStreamError { error } => EngineError::Stream {
                operation,
                message: error,
            },
            // bollard turns a response body that broke off into an io error carrying hyper's text.
            Error::IOError { err } if is_connection_failure(&err) => EngineError::ConnectionLost {
                operation,
                host: String::new(),
                reason: err.to_string(),
            },
            Error::IOError { err } => EngineError::Io {
                operation,
                source: err,
            },
            Error::HyperResponseError { .. }
            | Error::RequestTimeoutError
            | Error::SocketNotFoundError(_) => EngineError::ConnectionLost {
                operation,
                host: String::new(),
                reason: error.to_string(),
            },
            other => EngineError::Other {
                operation,
                message: other.to_string(),
            },
        }
    }

    /// Names the engine in a lost connection (the bollard error does not know it).
    pub(crate) fn at_host(self, engine_host: &str) -> EngineError {
        match self {
            EngineError::ConnectionLost {
                operation, reason, ..
            } => EngineError::ConnectionLost {
                operation,
                host: engine_host.to_owned(),
                reason,
            },
            other => other,
        }
    }

    pub(crate) fn io(operation: impl Into<String>, source: std::io::Error) -> EngineError {
        EngineError::Io {
            operation: operation.into(),
            source,
        }
    }

    /// True when the engine answered 404 for the object in question.
    pub fn is_not_found(&self) -> bool {
        matches!(self, EngineError::Api { status: 404, .. })
    }

    /// True when the engine itself could not be reached.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            EngineError::Unreachable { .. } | EngineError::ConnectionLost { .. }
        )
    }

    /// A line telling the user what to do, where there is an obvious fix.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { host, .. } => Some(format!(
                "start the engine at {host} (for example `setsid dockerd &`), or point DOCKER_HOST at one (unix:///var/run/docker.sock or tcp://127.0.0.1:2375); `cargo xtask doctor` checks it"
            )),
            EngineError::ConnectionLost { host, .. } => Some(format!(
                "the engine at {host} stopped or restarted mid-run; once it answers again, `cargo xtask clean` removes what the run left there, and the next run redoes the interrupted step"
            )),
            _ => None,
        }
    }
}

/// True for an io error that means the connection to the engine broke, not a local file problem.
fn is_connection_failure(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionRefused
            | ErrorKind::NotConnected
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
            | ErrorKind::TimedOut
    ) || error.to_string().contains("connection")
}
