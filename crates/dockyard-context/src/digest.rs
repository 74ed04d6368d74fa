//! Streaming sha256: the hashing `Write` adapter used while packing, [`sha256_file`], and the digest of a tree of files
//! read from a folder ([`tree_sha256`]) or from an archive of one ([`archive_tree_sha256`]), which agree.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ContextError;

/// A `Write` adapter that forwards every byte to `inner` and feeds the same bytes to sha256.
pub(crate) struct Sha256HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Sha256HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Sha256HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Returns the inner writer and the lowercase hex digest of everything written so far.
    pub(crate) fn finish_into_inner_and_hex_digest(self) -> (W, String) {
        (self.inner, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Sha256HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Returns the lowercase hex sha256 of a file's bytes, streaming the file in small chunks.
pub fn sha256_file(path: &Path) -> Result<String, ContextError> {
    let read_file_error = |source| ContextError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_file_error)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(read_file_error)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Returns the lowercase hex sha256 over every file and symlink below `root`: one `sha256 kind path` line each
/// (file bytes, or the link's target), in path order. Times, owners and modes are not part of it; a missing `root`
/// gives the digest of no lines.
pub fn tree_sha256(root: &Path) -> Result<String, ContextError> {
    let mut lines = Sha256::new();
    if !root.exists() {
        return Ok(hex::encode(lines.finalize()));
    }
    for entry in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|error| ContextError::ReadDirectory {
            path: error.path().unwrap_or(root).to_path_buf(),
            source: io::Error::other(error.to_string()),
        })?;
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let relative = relative.to_string_lossy();
        let kind = entry.file_type();
        let line = if kind.is_symlink() {
            let target =
                std::fs::read_link(entry.path()).map_err(|source| ContextError::ReadFile {
                    path: entry.path().to_path_buf(),
                    source,
                })?;
            tree_line(TreeEntry::Link(&target.to_string_lossy()), &relative)
        } else if kind.is_file() {
            tree_line(TreeEntry::File(&sha256_file(entry.path())?), &relative)
        } else {
            continue;
        };
        lines.update(line.as_bytes());
    }
    Ok(hex::encode(lines.finalize()))
}

/// What a line of a tree digest says about one path.
enum TreeEntry<'a> {
    /// A file, by the lowercase hex sha256 of its bytes.
    File(&'a str),
    /// A symbolic link, by its target.
    Link(&'a str),
}

/// One line of a tree digest: `sha256 kind path`.
fn tree_line(entry: TreeEntry<'_>, relative: &str) -> String {
    match entry {
        TreeEntry::File(sha256) => format!("{sha256} file {relative}\n"),
        TreeEntry::Link(target) => {
            let target = hex::encode(Sha256::digest(target.as_bytes()));
            format!("{target} link {relative}\n")
        }
    }
}

/// The [`tree_sha256`] of the folder a tar stream holds (entry paths relative to it, a leading `./` allowed), and the
/// number of files and links in it: the engine's download of `FOLDER/.` digests as the folder itself would.
pub fn archive_tree_sha256(reader: impl Read) -> Result<(String, usize), ContextError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|source| ContextError::ReadArchive { source })?;
    // `Path` orders component by component, which is the order of a sorted depth-first walk.
    let mut lines: Vec<(PathBuf, String)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|source| ContextError::ReadArchive { source })?;
        let stored = entry
            .path()
            .map_err(|source| ContextError::ReadArchive { source })?
            .into_owned();
        let relative: PathBuf = stored
            .components()
            .filter(|component| matches!(component, std::path::Component::Normal(_)))
            .collect();
        if relative.as_os_str().is_empty() {
            continue;
        }
        let read_error = |source| ContextError::ReadArchiveEntry {
            path: stored.clone(),
            source,
        };
        let kind = entry.header().entry_type();
        let line = if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(read_error)?
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            tree_line(TreeEntry::Link(&target), &relative.to_string_lossy())
        } else if kind.is_file() {
            let mut hasher = Sha256::new();
            io::copy(&mut entry, &mut hasher).map_err(read_error)?;
            let sha256 = hex::encode(hasher.finalize());
            tree_line(TreeEntry::File(&sha256), &relative.to_string_lossy())
        } else {
            continue;
        };
        lines.push((relative, line));
    }
    lines.sort();
    let mut digest = Sha256::new();
    for (_, line) in &lines {
        digest.update(line.as_bytes());
    }
    Ok((hex::encode(digest.finalize()), lines.len()))
}
