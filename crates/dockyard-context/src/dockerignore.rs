//! `.dockerignore` parsing and matching with Docker's semantics, by translation to anchored gitignore patterns.
//!
//! Docker's `.dockerignore` looks like `.gitignore` but behaves differently:
//!
//! * patterns are anchored at the context root: `foo` matches only `/foo`, never `a/foo`;
//! * `**` matches any number of directories (including none);
//! * `!pattern` re-includes, and the *last* pattern that matches a path *or any of its parent
//!   folders* decides (so `build` followed by `!build/keep` keeps `build/keep/…`);
//! * lines starting with `#` are comments, surrounding whitespace is trimmed, and patterns are
//!   cleaned like Go's `filepath.Clean` with a leading `/` stripped (`./foo/`, `/foo` and `foo`
//!   are the same pattern).
//!
//! Each Docker pattern is translated to a gitignore pattern for
//! [`ignore::gitignore::GitignoreBuilder`] by anchoring it: `foo` becomes `/foo`, `**/foo` stays
//! as it is, `!foo` becomes `!/foo`. Because cleaning removes trailing slashes, no translated
//! pattern is directory-only, exactly like Docker. The "last match over the path and its parents"
//! rule is implemented in [`DockerignoreMatcher::decide`] on top of gitignore's "last match wins".

use std::collections::HashMap;
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use crate::error::ContextError;

/// Translates one raw `.dockerignore` line to an anchored gitignore pattern.
///
/// Returns `None` for blank lines, comments, and patterns that can never match anything inside
/// the context (`.`, `/`, or patterns that climb out of it with `..`).
///
/// | Docker line      | gitignore pattern |
/// |------------------|-------------------|
/// | `foo`            | `/foo`            |
/// | `./foo/`         | `/foo`            |
/// | `/a//b/../c`     | `/a/c`            |
/// | `**/foo`         | `**/foo`          |
/// | `!foo`           | `!/foo`           |
/// | `# comment`      | (none)            |
pub fn dockerignore_pattern_to_gitignore(line: &str) -> Option<String> {
    // Docker checks for comments before trimming.
    if line.starts_with('#') {
        return None;
    }
    let mut pattern = line.trim();
    if pattern.is_empty() {
        return None;
    }
    let negated = pattern.starts_with('!');
    if negated {
        pattern = pattern[1..].trim();
        if pattern.is_empty() {
            return None;
        }
    }
    let mut cleaned = clean_path_like_go(pattern);
    if cleaned.len() > 1 && cleaned.starts_with('/') {
        cleaned.remove(0);
    }
    if cleaned == "." || cleaned == "/" || cleaned == ".." || cleaned.starts_with("../") {
        return None;
    }
    let anchored = if cleaned == "**" || cleaned.starts_with("**/") {
        cleaned
    } else {
        format!("/{cleaned}")
    };
    Some(if negated {
        format!("!{anchored}")
    } else {
        anchored
    })
}

/// Go's `filepath.Clean` for `/`-separated paths: collapses repeated slashes, drops `.`
/// components, resolves `..` lexically and removes any trailing slash.
fn clean_path_like_go(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// What `.dockerignore` says about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DockerignoreDecision {
    /// No pattern matches the path or its parents.
    NotMatched,
    /// The deciding pattern excludes the path.
    Excluded,
    /// The deciding pattern is a `!` re-include.
    ReIncluded,
}

/// A compiled `.dockerignore`.
pub(crate) struct DockerignoreMatcher {
    gitignore: Gitignore,
    /// Translated pattern text -> index of its last occurrence; used to compare "which pattern
    /// came last" across a path and its parents.
    last_index_by_translated_pattern: HashMap<String, usize>,
    /// The `!` patterns (without the `!` and the leading `/`), split into components.
    reinclude_pattern_components: Vec<Vec<String>>,
}

impl DockerignoreMatcher {
    /// Reads and compiles a `.dockerignore` file.
    pub(crate) fn read_from_file(path: &Path) -> Result<Self, ContextError> {
        let bytes = std::fs::read(path).map_err(|source| ContextError::ReadDockerignore {
            path: path.to_path_buf(),
            source,
        })?;
        Self::compile_from_text(&String::from_utf8_lossy(&bytes), path)
    }

    /// Compiles `.dockerignore` text; `source_path` is only used in error messages.
    pub(crate) fn compile_from_text(text: &str, source_path: &Path) -> Result<Self, ContextError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut builder = GitignoreBuilder::new(".");
        let mut last_index_by_translated_pattern = HashMap::new();
        let mut reinclude_pattern_components = Vec::new();
        let mut index = 0usize;
        for (line_index, line) in text.lines().enumerate() {
            let Some(translated) = dockerignore_pattern_to_gitignore(line) else {
                continue;
            };
            builder.add_line(None, &translated).map_err(|source| {
                ContextError::InvalidDockerignorePattern {
                    path: source_path.to_path_buf(),
                    line_number: line_index + 1,
                    pattern: line.trim().to_string(),
                    source,
                }
            })?;
            if let Some(reinclude) = translated.strip_prefix('!') {
                let anchored = reinclude.strip_prefix('/').unwrap_or(reinclude);
                reinclude_pattern_components
                    .push(anchored.split('/').map(str::to_string).collect());
            }
            last_index_by_translated_pattern.insert(translated, index);
            index += 1;
        }
        let gitignore =
            builder
                .build()
                .map_err(|source| ContextError::BuildDockerignoreMatcher {
                    path: source_path.to_path_buf(),
                    source,
                })?;
        Ok(DockerignoreMatcher {
            gitignore,
            last_index_by_translated_pattern,
            reinclude_pattern_components,
        })
    }

    /// Whether some `!` pattern might match a path strictly below the excluded folder
    /// `relative_folder`, i.e. whether the walk must still descend into it.
    ///
    /// Conservative: a pattern component with glob characters is assumed to match. A pattern that
    /// can only match the folder itself or one of its parents cannot help: the exclude that beat
    /// it for the folder beats it for everything below, too.
    pub(crate) fn could_reinclude_below(&self, relative_folder: &Path) -> bool {
        let folder_components: Vec<_> = relative_folder.components().collect();
        self.reinclude_pattern_components.iter().any(|pattern| {
            for (index, pattern_component) in pattern.iter().enumerate() {
                if pattern_component.contains("**") {
                    return true;
                }
                let Some(folder_component) = folder_components.get(index) else {
                    // The pattern is longer than the folder path: it reaches below it.
                    return true;
                };
                let has_glob_characters = pattern_component
                    .chars()
                    .any(|character| matches!(character, '*' | '?' | '[' | '\\'));
                if !has_glob_characters
                    && folder_component.as_os_str().to_str() != Some(pattern_component.as_str())
                {
                    return false;
                }
            }
            false
        })
    }

    /// Docker's rule: the last pattern that matches `relative_path` or any of its parent folders
    /// decides.
    pub(crate) fn decide(&self, relative_path: &Path, is_dir: bool) -> DockerignoreDecision {
        let mut deciding: Option<(usize, bool)> = None;
        let mut candidate: Option<&Path> = Some(relative_path);
        let mut candidate_is_dir = is_dir;
        while let Some(path) = candidate {
            if path.as_os_str().is_empty() {
                break;
            }
            let (original, is_reinclude) = match self.gitignore.matched(path, candidate_is_dir) {
                Match::None => (None, false),
                Match::Ignore(glob) => (Some(glob.original()), false),
                Match::Whitelist(glob) => (Some(glob.original()), true),
            };
            if let Some(index) =
                original.and_then(|text| self.last_index_by_translated_pattern.get(text))
            {
                if deciding.is_none_or(|(best, _)| *index > best) {
                    deciding = Some((*index, is_reinclude));
                }
            }
            candidate = path.parent();
            candidate_is_dir = true;
        }
        match deciding {
            None => DockerignoreDecision::NotMatched,
            Some((_, false)) => DockerignoreDecision::Excluded,
            Some((_, true)) => DockerignoreDecision::ReIncluded,
        }
    }
}

impl std::fmt::Debug for DockerignoreMatcher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DockerignoreMatcher")
            .field("patterns", &self.gitignore.num_ignores())
            .field("reincludes", &self.reinclude_pattern_components.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(text: &str) -> DockerignoreMatcher {
        DockerignoreMatcher::compile_from_text(text, Path::new(".dockerignore")).unwrap()
    }

    #[test]
    fn descends_into_excluded_folders_only_when_a_reinclude_can_reach_below() {
        let cases: &[(&str, &str, bool)] = &[
            ("node_modules", "node_modules", false),
            ("*\n!src", "node_modules", false),
            ("*\n!src", "src", false),
            ("build\n!build/keep", "build", true),
            ("build\n!build/keep", "build/keep", false),
            ("build\n!build/keep/a.txt", "build/keep", true),
            ("build\n!build/keep/a.txt", "build/other", false),
            ("*\n!*/keep", "anything", true),
            ("*\n!**/keep", "deep/er", true),
            ("*\n!a/**", "a", true),
            ("*\n!a/**", "b", false),
        ];
        for (text, folder, expected) in cases {
            assert_eq!(
                matcher(text).could_reinclude_below(Path::new(folder)),
                *expected,
                "{text:?} below {folder:?}"
            );
        }
    }
}
