//! Lexical path helpers shared by packing and unpacking: symlink target resolution and raw-byte paths.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

/// Resolves a relative symlink `target` lexically from the folder holding `link_relative_path`
/// (a path relative to the tree root), without touching the filesystem.
///
/// Returns the resolved path relative to the tree root, or `None` when the target is absolute or
/// climbs above the root with `..`.
pub(crate) fn resolve_symlink_target_lexically(
    link_relative_path: &Path,
    target: &Path,
) -> Option<PathBuf> {
    let mut resolved: Vec<&std::ffi::OsStr> = Vec::new();
    if let Some(parent) = link_relative_path.parent() {
        for component in parent.components() {
            match component {
                Component::Normal(name) => resolved.push(name),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
            }
        }
    }
    for component in target.components() {
        match component {
            Component::Normal(name) => resolved.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(resolved.iter().collect())
}

/// Builds a path from raw bytes (tar stores bytes; on Unix any byte string except NUL is a valid name).
#[cfg(unix)]
pub(crate) fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

/// Builds a path from raw bytes (lossy outside Unix).
#[cfg(not(unix))]
pub(crate) fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// The raw bytes of an OS string (lossy outside Unix).
#[cfg(unix)]
pub(crate) fn os_str_bytes(value: &std::ffi::OsStr) -> Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    Cow::Borrowed(value.as_bytes())
}

/// The raw bytes of an OS string (lossy outside Unix).
#[cfg(not(unix))]
pub(crate) fn os_str_bytes(value: &std::ffi::OsStr) -> Cow<'_, [u8]> {
    match value.to_string_lossy() {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}
