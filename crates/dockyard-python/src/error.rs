//! The crate's one error type: what could not be read or understood, naming the file.

use std::path::PathBuf;

/// What went wrong reading a project's Python files.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// A file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file, relative to the project folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A TOML file does not parse.
    #[error("{} is not valid TOML: {message}", path.display())]
    Toml {
        /// The file, relative to the project folder.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// `-r FILE` or `-c FILE` names a file that does not exist.
    #[error("{}:{line}: `{include}` names a file that does not exist", file.display())]
    MissingInclude {
        /// The requirements file holding the line.
        file: PathBuf,
        /// Its line number, 1-based.
        line: usize,
        /// The path as written.
        include: String,
    },
    /// `-r FILE` or `-c FILE` names a file outside the project folder.
    #[error("{}:{line}: `{include}` leaves the project folder", file.display())]
    IncludeOutside {
        /// The requirements file holding the line.
        file: PathBuf,
        /// Its line number, 1-based.
        line: usize,
        /// The path as written.
        include: String,
    },
    /// A JSON file (`Pipfile.lock`) does not parse.
    #[error("{} is not valid JSON: {message}", path.display())]
    Json {
        /// The file, relative to the project folder.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A lock entry that cannot become a hash-pinned requirement.
    #[error("{}: cannot pin `{package}`: {reason}", lock.display())]
    LockUnsupported {
        /// The lock file.
        lock: PathBuf,
        /// The package.
        package: String,
        /// Why, as a lowercase fragment.
        reason: String,
    },
    /// A group (or Pipfile category) the file does not have.
    #[error("{} has no group `{group}`; it has {}", file.display(), render_names(known))]
    UnknownGroup {
        /// The file that should hold it.
        file: PathBuf,
        /// The group asked for.
        group: String,
        /// The groups the file has.
        known: Vec<String>,
    },
    /// A Python version request that is not a version specifier Dockyard understands.
    #[error("{}: `{written}` is not a Python version request Dockyard understands", file.display())]
    UnrecognisedPythonRequest {
        /// The file holding it.
        file: PathBuf,
        /// The request as written.
        written: String,
    },
}

impl PythonError {
    /// How to fix it, where a fix is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Read { .. } => Some("check the file's permissions".to_owned()),
            Self::Toml { .. } => {
                Some("fix the TOML syntax; the project's own tools refuse it too".to_owned())
            }
            Self::MissingInclude { .. } => Some(
                "includes resolve against the folder of the file naming them, as pip does"
                    .to_owned(),
            ),
            Self::IncludeOutside { .. } => {
                Some("keep every requirements file inside the project folder".to_owned())
            }
            Self::Json { .. } => {
                Some("fix the JSON syntax, or lock again with the project's own tool".to_owned())
            }
            Self::LockUnsupported { .. } => Some(
                "lock the package from an index (PyPI or a private one) so the lock pins its files' hashes"
                    .to_owned(),
            ),
            Self::UnknownGroup { .. } => Some(
                "name a group the file declares in [dependencies] groups / test_groups of deploy.toml".to_owned(),
            ),
            Self::UnrecognisedPythonRequest { .. } => Some(
                "write a CPython version such as `3.11`, or a PEP 440 specifier such as `>=3.11`"
                    .to_owned(),
            ),
        }
    }
}

/// `a`, `b` (or `none`).
fn render_names(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
