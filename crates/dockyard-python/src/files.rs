//! Reading files relative to the project folder, and lexical path arithmetic that never leaves it.

use std::path::{Component, Path, PathBuf};

use crate::PythonError;

/// The text of `root/relative`, `None` when there is no such file.
pub(crate) fn read_optional(root: &Path, relative: &Path) -> Result<Option<String>, PythonError> {
    let path = root.join(relative);
    if !path.is_file() {
        return Ok(None);
    }
    std::fs::read(&path)
        .map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned()))
        .map_err(|source| PythonError::Read {
            path: relative.to_path_buf(),
            source,
        })
}

/// `root/relative` parsed as TOML, `None` when there is no such file.
pub(crate) fn read_toml(root: &Path, relative: &Path) -> Result<Option<toml::Table>, PythonError> {
    let Some(text) = read_optional(root, relative)? else {
        return Ok(None);
    };
    text.parse::<toml::Table>()
        .map(Some)
        .map_err(|error| PythonError::Toml {
            path: relative.to_path_buf(),
            message: error.message().to_owned(),
        })
}

/// `base` joined with `relative` and normalised lexically; `None` when it climbs above the project folder.
pub(crate) fn join_inside(base: &Path, relative: &str) -> Option<PathBuf> {
    let mut parts: Vec<String> = Vec::new();
    for component in base.join(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// The keys of the TOML table at `path` (dotted), sorted as written.
pub(crate) fn table_keys(table: &toml::Table, path: &[&str]) -> Vec<String> {
    let mut current = table;
    for key in path {
        match current.get(*key).and_then(toml::Value::as_table) {
            Some(inner) => current = inner,
            None => return Vec::new(),
        }
    }
    current.keys().cloned().collect()
}

/// The value at the dotted `path` of `table`.
pub(crate) fn value_at<'table>(
    table: &'table toml::Table,
    path: &[&str],
) -> Option<&'table toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut current = table;
    for key in parents {
        current = current.get(*key)?.as_table()?;
    }
    current.get(*last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_stay_inside() {
        let check = |base: &str, relative: &str, expected: Option<&str>| {
            assert_eq!(
                join_inside(Path::new(base), relative),
                expected.map(PathBuf::from),
                "{base} + {relative}"
            );
        };
        check("requirements", "base.txt", Some("requirements/base.txt"));
        check(
            "requirements",
            "../constraints.txt",
            Some("constraints.txt"),
        );
        check("", "./requirements.txt", Some("requirements.txt"));
        check("", "../outside.txt", None);
        check("a", "/etc/passwd", None);
    }
}
