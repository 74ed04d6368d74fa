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
