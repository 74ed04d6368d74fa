//! Writing a packed tarball to disk atomically, with a `sha256sum`-compatible `.sha256` sidecar.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::Sha256HashingWriter;
use crate::error::ContextError;
use crate::lexical_paths::os_str_bytes;
use crate::pack::PackSummary;

/// Distinguishes temp files created by concurrent calls in one process.
static TEMP_FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `pack_*` output to `path` atomically (temp file in the same folder, fsync, rename) and
/// then a `path.sha256` sidecar (e.g. `context.tar.gz.sha256`) in `sha256sum` format
/// (`<hex>  <file name>\n`), also atomically. Returns the summary.
///
/// The sidecar digest is computed from the bytes actually written to the file; if it differs
/// from the one the packer reported, the call fails and nothing is renamed into place.
///
/// ```no_run
/// use dockyard_context::{pack_members, write_tarball_file, Member, PackOptions};
/// # fn main() -> Result<(), dockyard_context::ContextError> {
/// let members = vec![Member::regular_file("Dockerfile", "FROM scratch\n")];
/// let summary = write_tarball_file("out/context.tar.gz".as_ref(), |out| {
///     pack_members(&members, &PackOptions::default(), out)
/// })?;
/// # let _ = summary;
/// # Ok(())
/// # }
/// ```
pub fn write_tarball_file(
    path: &Path,
    pack: impl FnOnce(&mut dyn Write) -> Result<PackSummary, ContextError>,
) -> Result<PackSummary, ContextError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| ContextError::OutputPathHasNoFileName {
            path: path.to_path_buf(),
        })?
        .to_os_string();

    let (temp_path, temp_file) = create_temp_file_next_to(path, &file_name)?;
    let temp_guard = RemoveFileOnDrop::new(temp_path.clone());

    let mut hashing_writer = Sha256HashingWriter::new(BufWriter::new(temp_file));
    let summary = pack(&mut hashing_writer)?;
    let write_error = |source| ContextError::WriteFile {
        path: temp_path.clone(),
        source,
    };
    hashing_writer.flush().map_err(write_error)?;
    let (buffered_file, written_sha256) = hashing_writer.finish_into_inner_and_hex_digest();
    let temp_file = buffered_file
        .into_inner()
        .map_err(|error| write_error(error.into_error()))?;
    temp_file.sync_all().map_err(write_error)?;
    drop(temp_file);

    if written_sha256 != summary.sha256 {
        return Err(ContextError::DigestMismatch {
            path: path.to_path_buf(),
            reported: summary.sha256,
            actual: written_sha256,
        });
    }

    rename_into_place(&temp_path, path)?;
    temp_guard.disarm();

    let mut sidecar_name = file_name.clone();
    sidecar_name.push(".sha256");
    let sidecar_path = path.with_file_name(&sidecar_name);
    let mut sidecar_line = Vec::with_capacity(written_sha256.len() + file_name.len() + 3);
    sidecar_line.extend_from_slice(written_sha256.as_bytes());
    sidecar_line.extend_from_slice(b"  ");
    sidecar_line.extend_from_slice(&os_str_bytes(&file_name));
    sidecar_line.push(b'\n');
    write_small_file_atomically(&sidecar_path, &sidecar_name, &sidecar_line)?;

    Ok(summary)
}

/// Writes small `contents` to `path` through a temp file and a rename.
fn write_small_file_atomically(
    path: &Path,
    file_name: &OsString,
    contents: &[u8],
) -> Result<(), ContextError> {
    let (temp_path, mut temp_file) = create_temp_file_next_to(path, file_name)?;
    let temp_guard = RemoveFileOnDrop::new(temp_path.clone());
    let write_error = |source| ContextError::WriteFile {
        path: temp_path.clone(),
        source,
    };
    temp_file.write_all(contents).map_err(write_error)?;
    temp_file.sync_all().map_err(write_error)?;
    drop(temp_file);
    rename_into_place(&temp_path, path)?;
    temp_guard.disarm();
    Ok(())
}

/// Creates `.<name>.<pid>-<n>.tmp` in the same folder as `path` (so the rename stays on one
/// filesystem).
fn create_temp_file_next_to(
    path: &Path,
    file_name: &OsString,
) -> Result<(PathBuf, File), ContextError> {
    loop {
        let counter = TEMP_FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}-{counter}.tmp", std::process::id()));
        let temp_path = path.with_file_name(&temp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(ContextError::CreateFile {
                    path: temp_path,
                    source,
                })
            }
        }
    }
}

fn rename_into_place(temp_path: &Path, path: &Path) -> Result<(), ContextError> {
    fs::rename(temp_path, path).map_err(|source| ContextError::RenameFile {
        from: temp_path.to_path_buf(),
        to: path.to_path_buf(),
        source,
    })
}

/// Removes a temp file on early return; [`RemoveFileOnDrop::disarm`] once it has been renamed.
struct RemoveFileOnDrop {
    path: Option<PathBuf>,
}

impl RemoveFileOnDrop {
    fn new(path: PathBuf) -> Self {
        RemoveFileOnDrop { path: Some(path) }
    }

    fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveFileOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: the original error is what the caller needs to see.
            let _ = fs::remove_file(path);
        }
    }
}
