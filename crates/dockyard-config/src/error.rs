//! The crate's one error type, [`ConfigError`], and the helpers that build it with a position.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// What is wrong with a `deploy.toml`.
///
/// Every variant that concerns the file's content carries the file (as the caller named it), a
/// 1-based line and column, the full key path and an optional hint, so a caller can print it as
/// is (`Display` gives `file:line:col: message` plus an optional `hint: ...` line) or turn it into
/// a CI annotation through [`ConfigError::file`], [`ConfigError::line`], [`ConfigError::column`],
/// [`ConfigError::message`] and [`ConfigError::hint`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The deploy file itself could not be read.
    #[error(
        "{}: {}\nhint: {HINT_UNREADABLE}",
        path.display(),
        describe_read_failure(source)
    )]
    Unreadable {
        /// The path as the caller gave it.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The deploy file is not valid TOML.
    #[error("{}:{line}:{column}: {message}{}", file.display(), render_hint(hint.as_deref()))]
    Syntax {
        /// The deploy file as the caller named it.
        file: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column (in characters) of the problem.
        column: usize,
        /// The parser's description, on one line.
        message: String,
        /// What to do about it, when there is something useful to say.
        hint: Option<String>,
    },
    /// A key or value is unknown, missing, of the wrong type or not acceptable.
    #[error("{}:{line}:{column}: {message}{}", file.display(), render_hint(hint.as_deref()))]
    Invalid {
        /// The deploy file as the caller named it.
        file: PathBuf,
        /// 1-based line of the offending key or value (or of its table's header).
        line: usize,
        /// 1-based column (in characters) of the offending key or value.
        column: usize,
        /// The full dotted key path, for example `app.port` or `base.runtime.image`.
        key: String,
        /// What is wrong, as a lowercase fragment naming the key.
        message: String,
        /// What to do about it, when there is something useful to say.
        hint: Option<String>,
    },
    /// A string is not a valid image reference (from [`crate::ImageRef`]'s `FromStr`).
    #[error("invalid image reference {reference:?}: {reason}")]
    ImageReference {
        /// The text that was parsed.
        reference: String,
        /// What is wrong with it, as a lowercase fragment.
        reason: String,
    },
}

const HINT_UNREADABLE: &str = "run from the project folder or pass --config";

impl ConfigError {
    /// The deploy file the error is about, as the caller named it.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ConfigError::Unreadable { path, .. } => Some(path),
            ConfigError::Syntax { file, .. } | ConfigError::Invalid { file, .. } => Some(file),
            ConfigError::ImageReference { .. } => None,
        }
    }

    /// The 1-based line of the problem, when it is inside the file.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Unreadable { .. } | ConfigError::ImageReference { .. } => None,
        }
    }

    /// The 1-based column (in characters) of the problem, when it is inside the file.
    pub fn column(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { column, .. } | ConfigError::Invalid { column, .. } => {
                Some(*column)
            }
            ConfigError::Unreadable { .. } | ConfigError::ImageReference { .. } => None,
        }
    }

    /// The full dotted key path the problem is about, for example `app.port`.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// What to do about the problem, when there is something useful to say.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ConfigError::Unreadable { .. } => Some(HINT_UNREADABLE),
            ConfigError::Syntax { hint, .. } | ConfigError::Invalid { hint, .. } => hint.as_deref(),
            ConfigError::ImageReference { .. } => None,
        }
    }

    /// The message alone: no file, position or hint (for `::error file=..,line=..::message`).
    pub fn message(&self) -> String {
        match self {
            ConfigError::Unreadable { source, .. } => describe_read_failure(source),
            ConfigError::Syntax { message, .. } | ConfigError::Invalid { message, .. } => {
                message.clone()
            }
            ConfigError::ImageReference { reference, reason } => {
                format!("invalid image reference {reference:?}: {reason}")
            }
        }
    }
}

fn render_hint(hint: Option<&str>) -> String {
    match hint {
        Some(hint) => format!("\nhint: {hint}"),
        None => String::new(),
    }
}

fn describe_read_failure(source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::NotFound => "deploy file not found".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "cannot read the deploy file: permission denied".to_owned()
        }
        std::io::ErrorKind::InvalidData => {
            "cannot read the deploy file: it is not valid UTF-8".to_owned()
        }
        std::io::ErrorKind::IsADirectory => "this is a folder, not a deploy file".to_owned(),
        _ => format!("cannot read the deploy file: {source}"),
    }
}

/// The text being checked and the name to show for it: everything needed to place an error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceText<'a> {
    /// The whole deploy file.
    pub(crate) text: &'a str,
    /// The file as the caller named it, for messages.
    pub(crate) shown_file: &'a Path,
}

/// 1-based line and column (in characters) of a byte offset into `text`.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_char_boundary(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn clamp_to_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A [`ConfigError::Invalid`] placed at the start of `span`.
pub(crate) fn invalid_at(
    source: SourceText<'_>,
    span: Range<usize>,
    key: impl Into<String>,
    message: impl Into<String>,
    hint: Option<String>,
) -> ConfigError {
    let (line, column) = line_and_column(source.text, span.start);
    ConfigError::Invalid {
        file: source.shown_file.to_path_buf(),
        line,
        column,
        key: key.into(),
        message: message.into(),
        hint,
    }
}

/// A [`ConfigError::Syntax`] placed at the start of `span`.
pub(crate) fn syntax_error_at(
    source: SourceText<'_>,
    span: Range<usize>,
    message: impl Into<String>,
    hint: Option<String>,
) -> ConfigError {
    let (line, column) = line_and_column(source.text, span.start);
    ConfigError::Syntax {
        file: source.shown_file.to_path_buf(),
        line,
        column,
        message: message.into(),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::line_and_column;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\n[é]\nb = 2\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 4), (1, 5));
        assert_eq!(line_and_column(text, 6), (2, 1));
        assert_eq!(line_and_column(text, 9), (2, 3));
        assert_eq!(line_and_column(text, 11), (3, 1));
        assert_eq!(line_and_column(text, 1000), (4, 1));
    }
}
