//! Safe extraction of an uncompressed tar stream (as `GET /containers/{id}/archive` returns it) into an empty folder.
//!
//! Defences, in order, for every entry:
//!
//! * the stored path is parsed from raw bytes: absolute paths and `..` components are rejected,
//!   `.` components and empty components are dropped (`./` and `.` are the root itself);
//! * hard links, device nodes, FIFOs and unknown entry types are rejected;
//! * symlinks must have a relative target that resolves lexically inside the folder;
//! * nothing is ever written *through* a symlink: every parent folder of an entry must be a real
//!   folder, and an existing symlink at an entry's own path is replaced, not followed (files are
//!   created with `O_CREAT | O_EXCL`);
//! * setuid, setgid and sticky bits are stripped; folder modes are applied at the end, deepest
//!   first, so a read-only folder in the archive does not break extraction of its contents.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use tar::EntryType;

use crate::error::ContextError;
use crate::lexical_paths::{path_from_bytes, resolve_symlink_target_lexically};

/// Permission bits kept from archive modes (setuid, setgid and sticky are dropped).
const PERMISSION_BITS: u32 = 0o777;

/// What [`unpack_archive_safely`] created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackSummary {
    /// Regular files created.
    pub n_files: usize,
    /// Folder entries created or confirmed (the root entry, if any, is not counted).
    pub n_dirs: usize,
    /// Symlinks created.
    pub n_symlinks: usize,
    /// File bytes written.
    pub n_bytes: u64,
}

/// Safely extracts an (uncompressed) tar stream, as the Docker Engine's
/// `GET /containers/{id}/archive` returns it, into `dest` (an empty folder; created if missing).
///
/// Rejects, with an error naming the entry: absolute paths, `..` components, hard links, symlinks
/// whose target is absolute or resolves outside the tree, device nodes and FIFOs, and entries that
/// would be written through a symlink. Strips setuid/setgid/sticky bits. Never writes outside
/// `dest`. Entries `./` and `.` are the root itself. On error, whatever was extracted before the
/// bad entry stays in `dest`; the caller should discard the folder.
pub fn unpack_archive_safely(
    archive: impl Read,
    dest: &Path,
) -> Result<UnpackSummary, ContextError> {
    prepare_empty_destination(dest)?;
    let mut summary = UnpackSummary::default();
    let mut directory_modes: Vec<(PathBuf, u32)> = Vec::new();

    let mut archive = tar::Archive::new(archive);
    let entries = archive
        .entries()
        .map_err(|source| ContextError::ReadArchive { source })?;
    for entry_result in entries {
        let mut entry = entry_result.map_err(|source| ContextError::ReadArchive { source })?;
        let stored_path = path_from_bytes(&entry.path_bytes());
        let entry_type = entry.header().entry_type();
        if entry_type == EntryType::XGlobalHeader {
            continue;
        }
        let relative_path = sanitize_entry_path(&entry.path_bytes(), &stored_path)?;
        let mode = entry
            .header()
            .mode()
            .map_err(|source| ContextError::ReadArchiveEntry {
                path: stored_path.clone(),
                source,
            })?
            & PERMISSION_BITS;

        match entry_type {
            EntryType::Directory => {
                let Some(relative_path) = relative_path else {
                    continue;
                };
                create_real_parent_folders(dest, &relative_path, &stored_path)?;
                create_directory_entry(dest, &relative_path, &stored_path)?;
                directory_modes.push((relative_path, mode));
                summary.n_dirs += 1;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let relative_path = require_non_root(relative_path, &stored_path)?;
                create_real_parent_folders(dest, &relative_path, &stored_path)?;
                let target_path = dest.join(&relative_path);
                remove_existing_non_directory(&target_path, &stored_path)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target_path)
                    .map_err(|source| ContextError::CreateEntry {
                        path: target_path.clone(),
                        source,
                    })?;
                let written = copy_entry_data(&mut entry, &mut file, &stored_path, &target_path)?;
                drop(file);
                set_mode(&target_path, mode)?;
                summary.n_files += 1;
                summary.n_bytes += written;
            }
            EntryType::Symlink => {
                let relative_path = require_non_root(relative_path, &stored_path)?;
                let target = entry
                    .link_name_bytes()
                    .map(|bytes| path_from_bytes(&bytes))
                    .unwrap_or_default();
                if target.as_os_str().is_empty()
                    || target.is_absolute()
                    || resolve_symlink_target_lexically(&relative_path, &target).is_none()
                {
                    return Err(ContextError::ArchiveSymlinkEscapes {
                        path: stored_path,
                        target,
                    });
                }
                create_real_parent_folders(dest, &relative_path, &stored_path)?;
                let link_path = dest.join(&relative_path);
                remove_existing_non_directory(&link_path, &stored_path)?;
                create_symlink(&target, &link_path)?;
                summary.n_symlinks += 1;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|bytes| path_from_bytes(&bytes))
                    .unwrap_or_default();
                return Err(ContextError::HardLinkEntry {
                    path: stored_path,
                    target,
                });
            }
            other => {
                return Err(ContextError::UnsupportedEntryType {
                    path: stored_path,
                    kind: entry_type_name(other),
                });
            }
        }
    }

    // Deepest first, so tightening a parent never blocks fixing up a child.
    directory_modes.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
    for (relative_path, mode) in directory_modes {
        let path = dest.join(&relative_path);
        let is_real_directory = fs::symlink_metadata(&path)
            .map(|metadata| metadata.is_dir())
            .unwrap_or(false);
        if is_real_directory {
            set_mode(&path, mode)?;
        }
    }
    Ok(summary)
}

fn entry_type_name(entry_type: EntryType) -> String {
    match entry_type {
        EntryType::Char => "character device".to_string(),
        EntryType::Block => "block device".to_string(),
        EntryType::Fifo => "fifo".to_string(),
        other => format!("non-regular entry (type {:?})", other.as_byte() as char),
    }
}

fn prepare_empty_destination(dest: &Path) -> Result<(), ContextError> {
    let prepare_error = |source| ContextError::PrepareDestination {
        path: dest.to_path_buf(),
        source,
    };
    match fs::metadata(dest) {
        Ok(metadata) if !metadata.is_dir() => {
            return Err(ContextError::DestinationNotDirectory {
                path: dest.to_path_buf(),
            })
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(prepare_error)?;
        }
        Err(source) => return Err(prepare_error(source)),
    }
    let mut listing = fs::read_dir(dest).map_err(prepare_error)?;
    if listing.next().is_some() {
        return Err(ContextError::DestinationNotEmpty {
            path: dest.to_path_buf(),
        });
    }
    Ok(())
}

/// Parses a stored path from raw bytes. `Ok(None)` means the root itself (`.`, `./`).
fn sanitize_entry_path(bytes: &[u8], stored_path: &Path) -> Result<Option<PathBuf>, ContextError> {
    let unsafe_path = |reason| ContextError::UnsafeEntryPath {
        path: stored_path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(unsafe_path("the path is empty"));
    }
    if bytes.starts_with(b"/") {
        return Err(unsafe_path("the path is absolute"));
    }
    if bytes.contains(&0) {
        return Err(unsafe_path("the path contains a NUL byte"));
    }
    let mut relative_path = PathBuf::new();
    for component in bytes.split(|byte| *byte == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(unsafe_path("the path has a `..` component")),
            name => {
                if cfg!(windows) && (name.contains(&b'\\') || name.contains(&b':')) {
                    return Err(unsafe_path("the path has a Windows separator or drive"));
                }
                relative_path.push(path_from_bytes(name));
            }
        }
    }
    if relative_path.as_os_str().is_empty() {
        return Ok(None);
    }
    Ok(Some(relative_path))
}

fn require_non_root(
    relative_path: Option<PathBuf>,
    stored_path: &Path,
) -> Result<PathBuf, ContextError> {
    relative_path.ok_or_else(|| ContextError::UnsafeEntryPath {
        path: stored_path.to_path_buf(),
        reason: "only a folder can be the archive root",
    })
}

/// Makes sure every parent of `relative_path` below `dest` is a real folder (creating missing
/// ones), refusing to go through symlinks or files.
fn create_real_parent_folders(
    dest: &Path,
    relative_path: &Path,
    stored_path: &Path,
) -> Result<(), ContextError> {
    let Some(parent) = relative_path.parent() else {
        return Ok(());
    };
    let mut prefix = PathBuf::new();
    for component in parent.components() {
        prefix.push(component);
        let folder = dest.join(&prefix);
        match fs::symlink_metadata(&folder) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(ContextError::EntryTraversesSymlink {
                    path: stored_path.to_path_buf(),
                    symlink: prefix,
                });
            }
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => {
                return Err(ContextError::EntryConflict {
                    path: stored_path.to_path_buf(),
                })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&folder).map_err(|source| ContextError::CreateEntry {
                    path: folder.clone(),
                    source,
                })?;
            }
            Err(source) => {
                return Err(ContextError::CreateEntry {
                    path: folder,
                    source,
                })
            }
        }
    }
    Ok(())
}

fn create_directory_entry(
    dest: &Path,
    relative_path: &Path,
    stored_path: &Path,
) -> Result<(), ContextError> {
    let folder = dest.join(relative_path);
    match fs::symlink_metadata(&folder) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(ContextError::EntryConflict {
            path: stored_path.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(&folder).map_err(|source| ContextError::CreateEntry {
                path: folder,
                source,
            })
        }
        Err(source) => Err(ContextError::CreateEntry {
            path: folder,
            source,
        }),
    }
}

/// A later entry replaces an earlier file or symlink at the same path (tar semantics), but never
/// a folder. Removing a symlink removes the link, not its target.
fn remove_existing_non_directory(path: &Path, stored_path: &Path) -> Result<(), ContextError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(ContextError::EntryConflict {
            path: stored_path.to_path_buf(),
        }),
        Ok(_) => fs::remove_file(path).map_err(|source| ContextError::CreateEntry {
            path: path.to_path_buf(),
            source,
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ContextError::CreateEntry {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Copies an entry's data, blaming read errors on the archive entry and write errors on the file.
fn copy_entry_data(
    entry: &mut impl Read,
    file: &mut fs::File,
    stored_path: &Path,
    target_path: &Path,
) -> Result<u64, ContextError> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let read = match entry.read(&mut buffer) {
            Ok(0) => return Ok(written),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ContextError::ReadArchiveEntry {
                    path: stored_path.to_path_buf(),
                    source,
                })
            }
        };
        io::Write::write_all(file, &buffer[..read]).map_err(|source| {
            ContextError::CreateEntry {
                path: target_path.to_path_buf(),
                source,
            }
        })?;
        written += read as u64;
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), ContextError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
        ContextError::SetPermissions {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), ContextError> {
    Ok(())
}

#[cfg(unix)]
fn create_symlink(target: &Path, link_path: &Path) -> Result<(), ContextError> {
    std::os::unix::fs::symlink(target, link_path).map_err(|source| ContextError::CreateEntry {
        path: link_path.to_path_buf(),
        source,
    })
}

#[cfg(not(unix))]
fn create_symlink(_target: &Path, link_path: &Path) -> Result<(), ContextError> {
    Err(ContextError::CreateEntry {
        path: link_path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::Unsupported,
            "symlinks are only supported on Unix",
        ),
    })
}
