//! Path handling: lexical normalization, "stays inside this folder", existence checks, display.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use crate::error::{invalid_at, ConfigError, SourceText};

/// Why a written relative path cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelativePathProblem {
    /// The string is empty.
    Empty,
    /// The path is absolute where a relative one is required.
    Absolute,
    /// `..` climbs above the folder the path is relative to.
    Escapes,
}

/// `written`, relative, with `.` removed and `..` applied, refusing to climb above its start.
///
/// `"./docker/../app/"` gives `app`; `"."` gives an empty path (the starting folder itself).
pub(crate) fn normalize_relative_path(written: &str) -> Result<PathBuf, RelativePathProblem> {
    if written.is_empty() {
        return Err(RelativePathProblem::Empty);
    }
    let mut normalized = PathBuf::new();
    for component in Path::new(written).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(RelativePathProblem::Absolute);
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if !normalized.pop() {
                    return Err(RelativePathProblem::Escapes);
                }
            }
            Component::Normal(part) => normalized.push(part),
        }
    }
    Ok(normalized)
}

/// `path` with `.` removed and `..` applied lexically (symbolic links are not followed).
pub(crate) fn normalize_lexically(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped = matches!(
                    normalized.components().next_back(),
                    Some(Component::Normal(_))
                ) && normalized.pop();
                if !popped && !normalized.has_root() {
                    normalized.push("..");
                }
            }
            other => normalized.push(other.as_os_str()),
        }
    }
    normalized
}

/// How to show `path` in a message: relative to the deploy file's folder when it is inside it.
pub(crate) fn display_path(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// What a path must point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpectedEntry {
    /// A regular file (or a link to one).
    File,
    /// A folder (or a link to one).
    Folder,
}

/// Where a key's path is checked from, for messages.
pub(crate) struct PathCheck<'a> {
    /// The text and the file name to place the error.
    pub(crate) source: SourceText<'a>,
    /// The span of the key's value.
    pub(crate) span: Range<usize>,
    /// The full key path, for example `builder.dockerfile`.
    pub(crate) key: &'a str,
    /// The deploy file's folder, to show paths relative to it.
    pub(crate) root: &'a Path,
    /// Added to the hint after the resolved path, for example what the path is relative to.
    pub(crate) note: &'a str,
}

/// Fails unless `absolute` exists and is a file or folder as `expected`.
pub(crate) fn check_path_exists(
    check: &PathCheck<'_>,
    absolute: &Path,
    expected: ExpectedEntry,
) -> Result<(), ConfigError> {
    let shown = display_path(check.root, absolute);
    let failure = |message: String| {
        let hint = format!("looked for {}{}", absolute.display(), check.note);
        invalid_at(
            check.source,
            check.span.clone(),
            check.key,
            message,
            Some(hint),
        )
    };
    let metadata = match std::fs::metadata(absolute) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(failure(format!(
                "`{}` points to {shown}, which does not exist",
                check.key
            )));
        }
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(failure(format!(
                "`{}` points to {shown}, which cannot be read (permission denied)",
                check.key
            )));
        }
        Err(error) => {
            return Err(failure(format!(
                "`{}` points to {shown}, which cannot be inspected ({})",
                check.key,
                error.kind().to_string().to_lowercase()
            )));
        }
    };
    match expected {
        ExpectedEntry::File if metadata.is_dir() => Err(failure(format!(
            "`{}` points to {shown}, which is a folder, not a file",
            check.key
        ))),
        ExpectedEntry::Folder if !metadata.is_dir() => Err(failure(format!(
            "`{}` points to {shown}, which is a file, not a folder",
            check.key
        ))),
        _ => Ok(()),
    }
}

/// Fails when `absolute` (which exists) leaves `check.root` through a symbolic link: lexically
/// inside the project is not enough when a folder on the way is a link to somewhere else.
pub(crate) fn check_stays_inside_through_links(
    check: &PathCheck<'_>,
    absolute: &Path,
) -> Result<(), ConfigError> {
    let Ok(real) = std::fs::canonicalize(absolute) else {
        return Ok(());
    };
    if real.starts_with(check.root) {
        return Ok(());
    }
    Err(invalid_at(
        check.source,
        check.span.clone(),
        check.key,
        format!(
            "`{}` points to {}, which leaves the project folder through a symbolic link (it resolves to {})",
            check.key,
            display_path(check.root, absolute),
            real.display()
        ),
        Some(
            "keep everything deploy.toml names inside its folder: copy the files in rather than linking to them"
                .to_owned(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{normalize_lexically, normalize_relative_path, RelativePathProblem};

    #[test]
    fn relative_paths_normalize_and_never_escape() {
        assert_eq!(
            normalize_relative_path("./docker/../app/"),
            Ok(PathBuf::from("app"))
        );
        assert_eq!(normalize_relative_path("."), Ok(PathBuf::new()));
        assert_eq!(
            normalize_relative_path("a/../.."),
            Err(RelativePathProblem::Escapes)
        );
        assert_eq!(
            normalize_relative_path("/etc"),
            Err(RelativePathProblem::Absolute)
        );
        assert_eq!(normalize_relative_path(""), Err(RelativePathProblem::Empty));
    }

    #[test]
    fn lexical_normalization_applies_parent_components() {
        assert_eq!(
            normalize_lexically(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize_lexically(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(
            normalize_lexically(Path::new("../a")),
            PathBuf::from("../a")
        );
    }
}
