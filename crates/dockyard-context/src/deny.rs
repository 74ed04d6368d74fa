//! The secret deny list: [`BUILTIN_DENY`] plus user extras, unanchored gitignore patterns that always win over `.dockerignore`.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use crate::error::ContextError;

/// Paths that never go into a source context, whatever `.dockerignore` says.
///
/// Gitignore syntax, unanchored (a pattern without a slash matches at any depth); `.git/` only
/// matches directories. [`crate::SourceRules::extra_deny`] can extend this list, never shrink it.
/// Later patterns win when several match (`.env` is reported as `.env`, not `*.env`).
pub const BUILTIN_DENY: &[&str] = &[
    "*.env", ".envs/", ".env", ".env.*", "*.pem", "*.key", "id_rsa*", ".git/",
];

/// The compiled deny list.
pub(crate) struct SecretDenyMatcher {
    gitignore: Gitignore,
}

impl SecretDenyMatcher {
    /// Compiles [`BUILTIN_DENY`] plus `extra_deny`. A `!` pattern in `extra_deny` is an error:
    /// the list can only grow.
    pub(crate) fn compile(extra_deny: &[String]) -> Result<Self, ContextError> {
        let mut builder = GitignoreBuilder::new(".");
        for pattern in BUILTIN_DENY {
            builder
                .add_line(None, pattern)
                .map_err(|source| ContextError::InvalidDenyPattern {
                    pattern: (*pattern).to_string(),
                    source,
                })?;
        }
        for pattern in extra_deny {
            if pattern.trim_start().starts_with('!') {
                return Err(ContextError::NegatedDenyPattern {
                    pattern: pattern.clone(),
                });
            }
            builder
                .add_line(None, pattern)
                .map_err(|source| ContextError::InvalidDenyPattern {
                    pattern: pattern.clone(),
                    source,
                })?;
        }
        let gitignore = builder
            .build()
            .map_err(|source| ContextError::InvalidDenyPattern {
                pattern: extra_deny.join(", "),
                source,
            })?;
        Ok(SecretDenyMatcher { gitignore })
    }

    /// The deny pattern (as written) that matches `relative_path` or one of its parent folders.
    pub(crate) fn matching_pattern(&self, relative_path: &Path, is_dir: bool) -> Option<String> {
        match self
            .gitignore
            .matched_path_or_any_parents(relative_path, is_dir)
        {
            Match::Ignore(glob) => Some(glob.original().to_string()),
            Match::Whitelist(_) | Match::None => None,
        }
    }
}
