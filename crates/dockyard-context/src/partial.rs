//! [`pack_source_paths`]: chosen paths of a source tree (the files `cargo xtask dev` saw change) packed under the
//! same rules and the same deterministic writer as the whole tree, and what is no longer there.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::ContextError;
use crate::pack::{write_collected_tree, PackOptions, PackSummary};
use crate::parallel_gzip::default_compression_threads;
use crate::source_tree::{
    classify_filesystem_entry, CollectedTree, SourceFilters, SourceRules, TreeEntryKind,
    DEFAULT_MAX_SOURCE_FILE_BYTES,
};

/// What [`pack_source_paths`] did with the paths it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialPack {
    /// The tarball's summary: the packed entries (with the folders above them).
    pub summary: PackSummary,
    /// The paths packed (files, symlinks, folders named in the call), relative, sorted.
    pub packed: Vec<PathBuf>,
    /// The paths that are gone from the tree (deleted or renamed away), relative, sorted.
    pub gone: Vec<PathBuf>,
    /// The paths the rules leave out (`.dockerignore`, the deny list, env-style secrets), relative, sorted: a whole
    /// tree's context would not hold them either.
    pub left_out: Vec<PathBuf>,
}

/// Packs the paths `relative_paths` of the tree at `root` (each relative to it) the way [`crate::pack_source_tree`]
/// packs the whole tree: the same `.dockerignore`, deny list, env-style secret sniffing, size limit and symlink
/// checks, the same normalised headers. A folder named in the call is packed with its whole content. Paths that do
/// not exist any more are reported as gone, to delete on the other side.
pub fn pack_source_paths(
    root: &Path,
    rules: &SourceRules,
    relative_paths: &[PathBuf],
    options: &PackOptions,
    out: impl Write,
) -> Result<PartialPack, ContextError> {
    let filters = SourceFilters::compile(rules)?;
    let max_file_bytes = rules
        .max_file_bytes
        .unwrap_or(DEFAULT_MAX_SOURCE_FILE_BYTES);
    let mut tree = CollectedTree::default();
    let mut result = PartialPack::default();
    let mut paths: Vec<PathBuf> = relative_paths.to_vec();
    paths.sort();
    paths.dedup();
    let mut queue = paths;
    while let Some(relative) = queue.pop() {
        let absolute = root.join(&relative);
        let Ok(metadata) = std::fs::symlink_metadata(&absolute) else {
            result.gone.push(relative);
            continue;
        };
        let is_dir = metadata.is_dir();
        if !filters.reaches(&relative, is_dir) {
            result.left_out.push(relative);
            continue;
        }
        let kind = classify_filesystem_entry(root, &relative)?;
        match kind {
            TreeEntryKind::RegularFile { size, .. } => {
                if size > max_file_bytes {
                    return Err(ContextError::SourceFileTooLarge {
                        path: relative,
                        size,
                        limit: max_file_bytes,
                    });
                }
                if crate::env_files::is_env_secret_file(&absolute, &relative, size) {
                    result.left_out.push(relative);
                    continue;
                }
            }
            TreeEntryKind::Directory => {
                let entries =
                    std::fs::read_dir(&absolute).map_err(|source| ContextError::ReadDirectory {
                        path: absolute.clone(),
                        source,
                    })?;
                for entry in entries.flatten() {
                    queue.push(relative.join(entry.file_name()));
                }
            }
            TreeEntryKind::Symlink { .. } => {}
        }
        result.packed.push(relative.clone());
        tree.insert_with_implied_parents(relative, kind);
    }
    result.summary = write_collected_tree(root, tree, options, default_compression_threads(), out)?;
    result.packed.sort();
    result.gone.sort();
    result.left_out.sort();
    Ok(result)
}
