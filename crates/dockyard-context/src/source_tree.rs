//! Walking a tree on disk into a sorted entry list: source trees (with `ignore`, `.dockerignore` and the deny list) and exported trees (with `walkdir`, no rules).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::WalkBuilder;

use crate::deny::SecretDenyMatcher;
use crate::dockerignore::{DockerignoreDecision, DockerignoreMatcher};
use crate::error::ContextError;
use crate::lexical_paths::resolve_symlink_target_lexically;

/// Rules for what goes into a source context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRules {
    /// A `.dockerignore` file (Docker syntax) applied relative to the tree root, if any.
    ///
    /// The path itself is used as given (a relative path is relative to the process's working
    /// directory, not to the tree root).
    pub dockerignore: Option<PathBuf>,
    /// Extra deny patterns (gitignore syntax, match anywhere), added to the built-in secret deny
    /// list ([`crate::BUILTIN_DENY`]). `!` patterns are rejected: the list can only grow.
    pub extra_deny: Vec<String>,
    /// The largest regular file a source context may hold, in bytes; a bigger one is refused with
    /// an error naming it, before any of its bytes are read. `None` means
    /// [`DEFAULT_MAX_SOURCE_FILE_BYTES`].
    pub max_file_bytes: Option<u64>,
}

/// The default for [`SourceRules::max_file_bytes`]: 1 GiB. A Django source tree holds code and
/// assets; a file this big is almost always a database dump or an archive left in the project.
pub const DEFAULT_MAX_SOURCE_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// One path that the deny list removed from a source context.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Excluded {
    /// The path, relative to the context root. For a denied folder only the folder is reported.
    pub path: PathBuf,
    /// The deny pattern that matched, as written.
    pub pattern: String,
    /// Whether a `.dockerignore` `!` pattern tried to bring the path back.
    pub reinclude_attempted: bool,
}

/// What kind of entry goes into the tarball.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TreeEntryKind {
    /// A folder (packed as `name/`).
    Directory,
    /// A regular file, packed from disk.
    RegularFile {
        /// Size seen during the walk.
        size: u64,
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A relative symlink that stays inside the tree.
    Symlink {
        /// The target, as written.
        target: PathBuf,
    },
}

/// A walked tree: entries keyed by relative path (component-wise order, i.e. parents before
/// children and siblings sorted by name bytes) and the deny-list report.
#[derive(Debug, Default)]
pub(crate) struct CollectedTree {
    pub(crate) entries: BTreeMap<PathBuf, TreeEntryKind>,
    pub(crate) excluded: Vec<Excluded>,
}

impl CollectedTree {
    /// Inserts an entry and, as folders, any parent that is not there yet (a parent can be
    /// missing when `.dockerignore` excluded it but re-included something below it).
    pub(crate) fn insert_with_implied_parents(
        &mut self,
        relative_path: PathBuf,
        kind: TreeEntryKind,
    ) {
        let mut parent = relative_path.parent();
        while let Some(folder) = parent {
            if folder.as_os_str().is_empty() || self.entries.contains_key(folder) {
                break;
            }
            self.entries
                .insert(folder.to_path_buf(), TreeEntryKind::Directory);
            parent = folder.parent();
        }
        self.entries.insert(relative_path, kind);
    }
}

/// What the source rules say about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceDecision {
    Include,
    SkipBecauseDockerignored { descend: bool },
    Deny { excluded: Excluded },
}

/// `.dockerignore` plus the deny list.
pub(crate) struct SourceFilters {
    dockerignore: Option<DockerignoreMatcher>,
    deny: SecretDenyMatcher,
}

impl SourceFilters {
    /// Compiles `rules`: reads the `.dockerignore`, checks the extra deny patterns.
    pub(crate) fn compile(rules: &SourceRules) -> Result<SourceFilters, ContextError> {
        let dockerignore = match &rules.dockerignore {
            Some(path) => Some(DockerignoreMatcher::read_from_file(path)?),
            None => None,
        };
        let deny = SecretDenyMatcher::compile(&rules.extra_deny)?;
        Ok(SourceFilters { dockerignore, deny })
    }

    /// Whether the walk would reach and keep `relative_path`: no folder above it is left out (a dockerignored
    /// folder counts only when nothing below it can be re-included), and the path itself is included.
    pub(crate) fn reaches(&self, relative_path: &Path, is_dir: bool) -> bool {
        let components: Vec<_> = relative_path.components().collect();
        let mut walked = PathBuf::new();
        for (index, component) in components.iter().enumerate() {
            walked.push(component);
            let last = index + 1 == components.len();
            match self.decide(&walked, !last || is_dir) {
                SourceDecision::Include => {}
                SourceDecision::SkipBecauseDockerignored { descend } if descend && !last => {}
                SourceDecision::SkipBecauseDockerignored { .. } | SourceDecision::Deny { .. } => {
                    return false
                }
            }
        }
        true
    }

    pub(crate) fn decide(&self, relative_path: &Path, is_dir: bool) -> SourceDecision {
        let dockerignore_decision = match &self.dockerignore {
            Some(matcher) => matcher.decide(relative_path, is_dir),
            None => DockerignoreDecision::NotMatched,
        };
        if dockerignore_decision == DockerignoreDecision::Excluded {
            let descend = is_dir
                && self
                    .dockerignore
                    .as_ref()
                    .is_some_and(|matcher| matcher.could_reinclude_below(relative_path));
            return SourceDecision::SkipBecauseDockerignored { descend };
        }
        match self.deny.matching_pattern(relative_path, is_dir) {
            Some(pattern) => SourceDecision::Deny {
                excluded: Excluded {
                    path: relative_path.to_path_buf(),
                    pattern,
                    reinclude_attempted: dockerignore_decision == DockerignoreDecision::ReIncluded,
                },
            },
            None => SourceDecision::Include,
        }
    }
}

fn ensure_root_is_directory(root: &Path) -> Result<(), ContextError> {
    match fs::metadata(root) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(ContextError::RootNotDirectory {
            path: root.to_path_buf(),
        }),
        Err(source) if source.kind() == io::ErrorKind::NotFound => {
            Err(ContextError::RootNotDirectory {
                path: root.to_path_buf(),
            })
        }
        Err(source) => Err(ContextError::ReadMetadata {
            path: root.to_path_buf(),
            source,
        }),
    }
}

/// Walks a source tree with the `ignore` crate (sequential, sorted by file name, standard filters
/// off, symlinks not followed), applying `.dockerignore` then the deny list.
pub(crate) fn collect_source_tree(
    root: &Path,
    rules: &SourceRules,
) -> Result<CollectedTree, ContextError> {
    ensure_root_is_directory(root)?;
    let max_file_bytes = rules
        .max_file_bytes
        .unwrap_or(DEFAULT_MAX_SOURCE_FILE_BYTES);
    let filters = Arc::new(SourceFilters::compile(rules)?);
    let denied_entries: Arc<Mutex<Vec<Excluded>>> = Arc::new(Mutex::new(Vec::new()));

    let mut walk_builder = WalkBuilder::new(root);
    walk_builder
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .threads(1)
        .sort_by_file_name(|left, right| left.cmp(right));
    {
        let filters = Arc::clone(&filters);
        let denied_entries = Arc::clone(&denied_entries);
        let root = root.to_path_buf();
        walk_builder.filter_entry(move |entry| {
            let Ok(relative_path) = entry.path().strip_prefix(&root) else {
                return true;
            };
            if relative_path.as_os_str().is_empty() {
                return true;
            }
            let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
            match filters.decide(relative_path, is_dir) {
                SourceDecision::Include => true,
                SourceDecision::SkipBecauseDockerignored { descend } => descend,
                SourceDecision::Deny { excluded } => {
                    let mut guard = denied_entries
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    guard.push(excluded);
                    false
                }
            }
        });
    }

    let mut tree = CollectedTree::default();
    let mut sniffed = Vec::new();
    for walk_result in walk_builder.build() {
        let entry = walk_result.map_err(|error| walk_error_to_context_error(root, error))?;
        if entry.depth() == 0 {
            continue;
        }
        let relative_path = relative_path_below_root(root, entry.path())?;
        let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
        if filters.decide(&relative_path, is_dir) != SourceDecision::Include {
            continue;
        }
        let kind = classify_filesystem_entry(root, &relative_path)?;
        if let TreeEntryKind::RegularFile { size, .. } = kind {
            if size > max_file_bytes {
                return Err(ContextError::SourceFileTooLarge {
                    path: relative_path,
                    size,
                    limit: max_file_bytes,
                });
            }
            if crate::env_files::is_env_secret_file(entry.path(), &relative_path, size) {
                sniffed.push(Excluded {
                    path: relative_path,
                    pattern: crate::env_files::ENV_FILE_PATTERN.to_owned(),
                    reinclude_attempted: false,
                });
                continue;
            }
        }
        tree.insert_with_implied_parents(relative_path, kind);
    }

    let mut excluded = std::mem::take(
        &mut *denied_entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    excluded.extend(sniffed);
    excluded.sort();
    tree.excluded = excluded;
    Ok(tree)
}

/// Walks every entry below `root` with `walkdir` (sorted by file name, symlinks not followed),
/// with no filtering at all.
pub(crate) fn collect_whole_tree(root: &Path) -> Result<CollectedTree, ContextError> {
    ensure_root_is_directory(root)?;
    let mut tree = CollectedTree::default();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .sort_by_file_name();
    for walk_result in walker {
        let entry = walk_result.map_err(|error| {
            let path = error.path().unwrap_or(root).to_path_buf();
            ContextError::ReadDirectory {
                path,
                source: io::Error::from(error),
            }
        })?;
        let relative_path = relative_path_below_root(root, entry.path())?;
        let kind = classify_filesystem_entry(root, &relative_path)?;
        tree.insert_with_implied_parents(relative_path, kind);
    }
    Ok(tree)
}

fn relative_path_below_root(root: &Path, path: &Path) -> Result<PathBuf, ContextError> {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .map_err(|_| ContextError::ReadDirectory {
            path: path.to_path_buf(),
            source: io::Error::other("walker returned a path outside the root"),
        })
}

fn walk_error_to_context_error(root: &Path, error: ignore::Error) -> ContextError {
    let path = path_named_by_walk_error(&error)
        .unwrap_or(root)
        .to_path_buf();
    let source = if error.io_error().is_some() {
        error
            .into_io_error()
            .unwrap_or_else(|| io::Error::other("walk failed"))
    } else {
        io::Error::other(error)
    };
    ContextError::ReadDirectory { path, source }
}

fn path_named_by_walk_error(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            path_named_by_walk_error(err)
        }
        ignore::Error::Partial(errors) => errors.iter().find_map(path_named_by_walk_error),
        _ => None,
    }
}

/// Looks at one entry without following symlinks and decides how it is packed.
pub(crate) fn classify_filesystem_entry(
    root: &Path,
    relative_path: &Path,
) -> Result<TreeEntryKind, ContextError> {
    let absolute_path = root.join(relative_path);
    let metadata =
        fs::symlink_metadata(&absolute_path).map_err(|source| ContextError::ReadMetadata {
            path: absolute_path.clone(),
            source,
        })?;
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        let target = fs::read_link(&absolute_path).map_err(|source| ContextError::ReadSymlink {
            path: absolute_path.clone(),
            source,
        })?;
        if target.is_absolute()
            || resolve_symlink_target_lexically(relative_path, &target).is_none()
        {
            return Err(ContextError::SymlinkEscapes {
                path: relative_path.to_path_buf(),
                target,
            });
        }
        return Ok(TreeEntryKind::Symlink { target });
    }
    if file_type.is_dir() {
        return Ok(TreeEntryKind::Directory);
    }
    if file_type.is_file() {
        return Ok(TreeEntryKind::RegularFile {
            size: metadata.len(),
            executable: has_any_execute_bit(&metadata),
        });
    }
    Err(ContextError::UnsupportedFileType {
        path: relative_path.to_path_buf(),
        kind: special_file_kind_name(&file_type),
    })
}

#[cfg(unix)]
fn has_any_execute_bit(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn has_any_execute_bit(_metadata: &fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn special_file_kind_name(file_type: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "fifo"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_file_kind_name(_file_type: &fs::FileType) -> &'static str {
    "special file"
}
