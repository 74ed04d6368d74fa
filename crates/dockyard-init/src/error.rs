//! The crate's one error type: why `init` refuses a folder, with a hint.

use std::path::PathBuf;

use dockyard_python::PythonError;

/// Why `init` cannot inspect a folder or write its deploy.toml.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The folder given does not exist or is not a folder.
    #[error("{} is not a folder", folder.display())]
    NotAFolder {
        /// The path given.
        folder: PathBuf,
    },
    /// No `manage.py` in the folder or below it.
    #[error("no manage.py in {} or the folders below it: not a Django project", folder.display())]
    NoManagePy {
        /// The folder inspected.
        folder: PathBuf,
    },
    /// `deploy.toml` exists already.
    #[error("{} already exists; init never overwrites it", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// No settings module could be found.
    #[error("{}: no DJANGO_SETTINGS_MODULE default naming a module that exists", manage_py.display())]
    NoSettingsModule {
        /// The `manage.py` read.
        manage_py: PathBuf,
    },
    /// A project file that exists could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `deploy.toml` could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The dependency files or Python version request could not be read.
    #[error(transparent)]
    Python(#[from] PythonError),
}

impl InitError {
    /// How to fix it, where a fix is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotAFolder { .. } => Some("give the folder of a Django project (or the repository holding it)".to_owned()),
            Self::NoManagePy { .. } => Some(
                "give the folder holding manage.py, or a repository with it below (such as src/manage.py)".to_owned(),
            ),
            Self::AlreadyExists { .. } => Some(
                "edit the existing deploy.toml, or move it away and run init again to compare".to_owned(),
            ),
            Self::NoSettingsModule { .. } => Some(
                "make manage.py call os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"your.settings\")".to_owned(),
            ),
            Self::Read { .. } | Self::Write { .. } => Some("check the folder's permissions".to_owned()),
            Self::Python(error) => error.hint(),
        }
    }
}
