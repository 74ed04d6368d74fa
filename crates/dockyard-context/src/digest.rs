//! Streaming sha256: the hashing `Write` adapter used while packing, and [`sha256_file`].

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

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
            let target = hex::encode(Sha256::digest(target.to_string_lossy().as_bytes()));
            format!("{target} link {relative}\n")
        } else if kind.is_file() {
            format!("{} file {relative}\n", sha256_file(entry.path())?)
        } else {
            continue;
        };
        lines.update(line.as_bytes());
    }
    Ok(hex::encode(lines.finalize()))
}
