//! The release preflight: refuses a dirty tree unless allowed and works out the [`Version`], before any engine
//! work, so that a refused release builds nothing.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::git::git;
use crate::publish::ReleaseOptions;
use crate::ReleaseError;

/// A version to release: a valid Docker tag (letters, digits, `_`, `.` and `-`, not starting with `.` or `-`,
/// at most [`dockyard_config::MAXIMUM_TAG_LENGTH`] characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    /// `text` as a version; [`ReleaseError::InvalidVersion`] when it is no valid image tag.
    pub fn parse(text: &str) -> Result<Version, ReleaseError> {
        if dockyard_config::is_valid_tag(text) {
            Ok(Version(text.to_owned()))
        } else {
            Err(ReleaseError::InvalidVersion {
                version: text.to_owned(),
            })
        }
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What the preflight found: the version to release and whether the tree had uncommitted changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// The version to release.
    pub version: Version,
    /// Uncommitted changes were present (allowed by `--allow-dirty`, or a check).
    pub dirty: bool,
}

/// Refuses a dirty git tree at `root` unless `options` allow it, and works out the version: `options.version`,
/// else the git tag at HEAD (without a leading `v`), else `project_version`. Runs git, so call it before the
/// async runtime or through `spawn_blocking`.
pub fn preflight(
    root: &Path,
    project_version: &str,
    options: &ReleaseOptions,
) -> Result<Preflight, ReleaseError> {
    let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| !status.is_empty());
    if dirty && !options.allow_dirty {
        return Err(ReleaseError::DirtyTree);
    }
    let version = options
        .version
        .clone()
        .or_else(|| {
            git(root, &["describe", "--tags", "--exact-match"])
                .map(|tag| tag.trim_start_matches('v').to_owned())
        })
        .unwrap_or_else(|| project_version.to_owned());
    Ok(Preflight {
        version: Version::parse(&version)?,
        dirty,
    })
}
