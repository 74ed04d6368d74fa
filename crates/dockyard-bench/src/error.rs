//! The bench crate's one error type.

use std::path::PathBuf;

/// What can go wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A measured or baseline command failed.
    #[error("{what} failed: {message}")]
    Command {
        /// The command, in words.
        what: String,
        /// Its exit status and the tail of its output.
        message: String,
    },
    /// The context packer failed.
    #[error(transparent)]
    Context(#[from] dockyard_context::ContextError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] dockyard_engine::EngineError),
    /// Loading or preparing the sample's deploy.toml failed.
    #[error(transparent)]
    Pipeline(#[from] dockyard_pipeline::PipelineError),
}

impl BenchError {
    /// The fix, when there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        match self {
            BenchError::Engine(error) => error.hint(),
            BenchError::Pipeline(error) => error.hint(),
            BenchError::Command { .. } => Some(
                "the benchmark needs tar, gzip, bash, curl and the docker CLI on PATH, and a reachable engine"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// An `Io` error maker for `map_err`.
pub(crate) fn io(
    operation: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> BenchError {
    let path = path.to_path_buf();
    move |source| BenchError::Io {
        operation,
        path,
        source,
    }
}
