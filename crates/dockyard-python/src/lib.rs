//! Facts about a Python project read from its files alone (nothing is run): which dependency format it uses and
//! which files hold it ([`detect_dependencies`]), a lock turned into hash-pinned requirements
//! ([`poetry_requirements`], [`pipenv_requirements`]), the packages a lock pins with their artifact hashes
//! ([`hash_pinned_requirements`], [`uv_lock_pins`]), and which Python versions it asks for ([`python_requests`]).
//!
//! Every path in the returned values is relative to the folder given, with `/` separators, so callers can write
//! it into `deploy.toml` as it is.

mod dependencies;
mod error;
mod files;
mod lock;
mod pins;
mod requirements;
mod version;

pub use dependencies::{detect_dependencies, DependencyFormat};
pub use error::PythonError;
pub use lock::{
    declared_groups, pipenv_categories, pipenv_requirements, poetry_requirements, DeclaredGroups,
    LockedRequirements,
};
pub use pins::{hash_pinned_requirements, normalize_name, uv_lock_pins, PinnedPackage};
pub use requirements::{
    requirements_closure, Include, IncludeKind, RequirementsFile, RequirementsRole,
};
pub use version::{python_requests, PythonRequest, PythonSource, PythonVersion, REQUEST_FILES};
