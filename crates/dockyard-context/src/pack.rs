//! Deterministic gzip tarball writing and the public `pack_source_tree` / `pack_tree` / `pack_members` entry points.
//!
//! The tarball is a pure function of relative paths, file bytes and normalised modes:
//!
//! * entries are sorted component-wise by relative path bytes; folders get their own `dir/`
//!   entry before their contents; the root gets none;
//! * GNU headers throughout, mtime = [`PackOptions::mtime`], uid/gid 0, empty user/group names,
//!   mode `0o755` for folders and files with any execute bit, `0o644` for other files, `0o777`
//!   for symlinks (target stored as written); long names use GNU long-name entries;
//! * gzip with mtime 0, no file name, OS byte "unknown", level 6, compressed in parallel by
//!   [`crate::parallel_gzip`] into one gzip member whose bytes do not depend on the thread count.

use std::fs::File;
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use crate::digest::Sha256HashingWriter;
use crate::error::ContextError;
use crate::members::{collect_members, Member, MemberEntryKind};
use crate::parallel_gzip::{default_compression_threads, ParallelGzipWriter};
use crate::source_tree::{
    collect_source_tree, collect_whole_tree, CollectedTree, Excluded, SourceRules, TreeEntryKind,
};

/// Mode for folders and for files with any execute bit.
const EXECUTABLE_OR_DIRECTORY_MODE: u32 = 0o755;
/// Mode for files without any execute bit.
const REGULAR_FILE_MODE: u32 = 0o644;
/// Mode for symlinks.
const SYMLINK_MODE: u32 = 0o777;
/// gzip level; part of the determinism contract (changing it changes every digest).
const GZIP_LEVEL: u32 = 6;

/// How to pack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackOptions {
    /// Fixed mtime for every entry (`SOURCE_DATE_EPOCH`, or 0).
    pub mtime: u64,
}

/// What a `pack_*` call wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackSummary {
    /// Lowercase hex sha256 of the `.tar.gz` bytes written.
    pub sha256: String,
    /// Number of regular-file entries.
    pub n_files: usize,
    /// Number of folder entries (the root has none).
    pub n_dirs: usize,
    /// Number of symlink entries.
    pub n_symlinks: usize,
    /// Uncompressed file bytes.
    pub n_bytes: u64,
    /// What the built-in deny list or `extra_deny` removed (not plain `.dockerignore` hits),
    /// sorted by path.
    pub excluded: Vec<Excluded>,
}

/// Walks `root` (with the `ignore` crate, sequentially, standard filters off: no `.gitignore`,
/// hidden files included, symlinks not followed), applies the `.dockerignore`, then the deny
/// lists, and writes a deterministic gzip tarball to `out`.
///
/// Folders excluded by `.dockerignore` are not descended into unless the `.dockerignore` has `!`
/// patterns; a folder that is excluded but has re-included content gets its own entry.
///
/// gzip runs on [`default_compression_threads`] threads; the bytes do not depend on it.
pub fn pack_source_tree(
    root: &Path,
    rules: &SourceRules,
    options: &PackOptions,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    pack_source_tree_with_threads(root, rules, options, default_compression_threads(), out)
}

/// [`pack_source_tree`] with gzip on `compression_threads` threads; every thread count writes
/// the same bytes.
pub fn pack_source_tree_with_threads(
    root: &Path,
    rules: &SourceRules,
    options: &PackOptions,
    compression_threads: NonZeroUsize,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    let tree = collect_source_tree(root, rules)?;
    write_collected_tree(root, tree, options, compression_threads, out)
}

/// Packs every entry below `root` (no ignore rules at all) the same deterministic way. Used to
/// re-pack a folder exported from a builder container.
pub fn pack_tree(
    root: &Path,
    options: &PackOptions,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    pack_tree_with_threads(root, options, default_compression_threads(), out)
}

/// [`pack_tree`] with gzip on `compression_threads` threads; every thread count writes the same
/// bytes.
pub fn pack_tree_with_threads(
    root: &Path,
    options: &PackOptions,
    compression_threads: NonZeroUsize,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    let tree = collect_whole_tree(root)?;
    write_collected_tree(root, tree, options, compression_threads, out)
}

/// Packs in-memory members (e.g. a rendered Dockerfile and small scripts) and nothing from disk,
/// deterministically, gzip.
///
/// Member order does not matter. Parent folders of nested members (`scripts/run.sh`) get their own
/// `scripts/` entries, like every other tarball this crate writes.
pub fn pack_members(
    members: &[Member],
    options: &PackOptions,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    pack_members_with_threads(members, options, default_compression_threads(), out)
}

/// [`pack_members`] with gzip on `compression_threads` threads; every thread count writes the
/// same bytes.
pub fn pack_members_with_threads(
    members: &[Member],
    options: &PackOptions,
    compression_threads: NonZeroUsize,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    let entries = collect_members(members)?;
    let mut writer = DeterministicTarballWriter::new(out, options, compression_threads);
    for (relative_path, kind) in &entries {
        match kind {
            MemberEntryKind::Directory => writer.append_directory(relative_path)?,
            MemberEntryKind::File { member_index } => {
                let Some(member) = members.get(*member_index) else {
                    continue;
                };
                let size = member.bytes.len() as u64;
                writer
                    .append_regular_file(relative_path, size, member.executable, &member.bytes[..])
                    .map_err(|source| ContextError::WriteArchive { source })?;
            }
        }
    }
    writer.finish(Vec::new())
}

pub(crate) fn write_collected_tree(
    root: &Path,
    tree: CollectedTree,
    options: &PackOptions,
    compression_threads: NonZeroUsize,
    out: impl Write,
) -> Result<PackSummary, ContextError> {
    let mut writer = DeterministicTarballWriter::new(out, options, compression_threads);
    for (relative_path, kind) in &tree.entries {
        match kind {
            TreeEntryKind::Directory => writer.append_directory(relative_path)?,
            TreeEntryKind::Symlink { target } => writer.append_symlink(relative_path, target)?,
            TreeEntryKind::RegularFile { size, executable } => {
                append_regular_file_from_disk(&mut writer, root, relative_path, *size, *executable)?
            }
        }
    }
    writer.finish(tree.excluded)
}

/// Streams one file from disk into the tarball, checking that it did not change size.
fn append_regular_file_from_disk<W: Write>(
    writer: &mut DeterministicTarballWriter<W>,
    root: &Path,
    relative_path: &Path,
    size: u64,
    executable: bool,
) -> Result<(), ContextError> {
    let absolute_path = root.join(relative_path);
    let read_file_error = |source| ContextError::ReadFile {
        path: absolute_path.clone(),
        source,
    };
    let file = File::open(&absolute_path).map_err(read_file_error)?;
    let size_now = file.metadata().map_err(read_file_error)?.len();
    if size_now != size {
        return Err(ContextError::FileChangedWhilePacking {
            path: absolute_path,
            expected_size: size,
            actual_size: size_now,
        });
    }
    let mut reader = ReadErrorRecordingReader::new(file.take(size));
    if let Err(write_error) =
        writer.append_regular_file(relative_path, size, executable, &mut reader)
    {
        return Err(match reader.recorded_read_error.take() {
            Some(source) => ContextError::ReadFile {
                path: absolute_path,
                source,
            },
            None => ContextError::WriteArchive {
                source: write_error,
            },
        });
    }
    let bytes_missing = reader.inner.limit();
    if bytes_missing > 0 {
        return Err(ContextError::FileChangedWhilePacking {
            path: absolute_path,
            expected_size: size,
            actual_size: size - bytes_missing,
        });
    }
    Ok(())
}

/// Remembers read-side errors so a failed copy can be blamed on the source file rather than on
/// the output stream.
struct ReadErrorRecordingReader<R> {
    inner: R,
    recorded_read_error: Option<io::Error>,
}

impl<R: Read> ReadErrorRecordingReader<R> {
    fn new(inner: R) -> Self {
        ReadErrorRecordingReader {
            inner,
            recorded_read_error: None,
        }
    }
}

impl<R: Read> Read for ReadErrorRecordingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(error) if error.kind() != io::ErrorKind::Interrupted => {
                let kind = error.kind();
                self.recorded_read_error = Some(error);
                Err(io::Error::new(kind, "reading the source file failed"))
            }
            other => other,
        }
    }
}

/// Counts kept while writing.
#[derive(Debug, Default)]
struct PackCounts {
    n_files: usize,
    n_dirs: usize,
    n_symlinks: usize,
    n_bytes: u64,
}

/// tar -> gzip -> sha256 -> `out`, with normalised headers.
pub(crate) struct DeterministicTarballWriter<W: Write> {
    builder: tar::Builder<ParallelGzipWriter<Sha256HashingWriter<W>>>,
    mtime: u64,
    counts: PackCounts,
}

impl<W: Write> DeterministicTarballWriter<W> {
    pub(crate) fn new(out: W, options: &PackOptions, compression_threads: NonZeroUsize) -> Self {
        let gzip = ParallelGzipWriter::new(
            Sha256HashingWriter::new(out),
            GZIP_LEVEL,
            compression_threads,
        );
        DeterministicTarballWriter {
            builder: tar::Builder::new(gzip),
            mtime: options.mtime,
            counts: PackCounts::default(),
        }
    }

    fn normalised_header(&self, entry_type: EntryType, mode: u32, size: u64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.mtime);
        header.set_size(size);
        header
    }

    pub(crate) fn append_directory(&mut self, relative_path: &Path) -> Result<(), ContextError> {
        let mut header =
            self.normalised_header(EntryType::Directory, EXECUTABLE_OR_DIRECTORY_MODE, 0);
        let mut name = relative_path.as_os_str().to_os_string();
        name.push("/");
        self.builder
            .append_data(&mut header, PathBuf::from(name), io::empty())
            .map_err(|source| ContextError::WriteArchive { source })?;
        self.counts.n_dirs += 1;
        Ok(())
    }

    /// Appends a regular file whose bytes come from `data` (exactly `size` bytes). Errors are
    /// returned raw so the caller can tell read failures from write failures.
    pub(crate) fn append_regular_file(
        &mut self,
        relative_path: &Path,
        size: u64,
        executable: bool,
        data: impl Read,
    ) -> io::Result<()> {
        let mode = if executable {
            EXECUTABLE_OR_DIRECTORY_MODE
        } else {
            REGULAR_FILE_MODE
        };
        let mut header = self.normalised_header(EntryType::Regular, mode, size);
        self.builder.append_data(&mut header, relative_path, data)?;
        self.counts.n_files += 1;
        self.counts.n_bytes += size;
        Ok(())
    }

    pub(crate) fn append_symlink(
        &mut self,
        relative_path: &Path,
        target: &Path,
    ) -> Result<(), ContextError> {
        let mut header = self.normalised_header(EntryType::Symlink, SYMLINK_MODE, 0);
        self.builder
            .append_link(&mut header, relative_path, target)
            .map_err(|source| ContextError::WriteArchive { source })?;
        self.counts.n_symlinks += 1;
        Ok(())
    }

    /// Writes the tar trailer, finishes gzip, flushes `out` and returns the summary.
    pub(crate) fn finish(self, excluded: Vec<Excluded>) -> Result<PackSummary, ContextError> {
        let write_error = |source| ContextError::WriteArchive { source };
        let gzip = self.builder.into_inner().map_err(write_error)?;
        let hashing_writer = gzip.finish().map_err(write_error)?;
        let (_out, sha256) = hashing_writer.finish_into_inner_and_hex_digest();
        Ok(PackSummary {
            sha256,
            n_files: self.counts.n_files,
            n_dirs: self.counts.n_dirs,
            n_symlinks: self.counts.n_symlinks,
            n_bytes: self.counts.n_bytes,
            excluded,
        })
    }
}
