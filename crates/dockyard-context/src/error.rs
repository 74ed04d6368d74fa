//! The crate's single error type, [`ContextError`], and the user-facing hints attached to it.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while walking, packing, writing or unpacking a build context.
///
/// Messages are lowercase fragments without a trailing period, so callers can prefix or chain
/// them. Variants with an obvious fix also carry a hint, see [`ContextError::hint`].
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context root is missing or is not a directory.
    #[error("context root {} is not a directory", path.display())]
    RootNotDirectory {
        /// The root that was given.
        path: PathBuf,
    },

    /// `lstat`/`stat` failed on a path.
    #[error("cannot inspect {}", path.display())]
    ReadMetadata {
        /// The path that could not be inspected.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A directory could not be listed while walking the tree.
    #[error("cannot list directory {}", path.display())]
    ReadDirectory {
        /// The directory (or the walk root when the walker did not say which entry failed).
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A file could not be opened or read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A file changed size between the walk and the moment its bytes were packed.
    #[error("{} changed while packing (expected {expected_size} bytes, found {actual_size})", path.display())]
    FileChangedWhilePacking {
        /// The file that changed.
        path: PathBuf,
        /// The size seen during the walk.
        expected_size: u64,
        /// The size seen while packing.
        actual_size: u64,
    },

    /// A symlink's target could not be read.
    #[error("cannot read symlink {}", path.display())]
    ReadSymlink {
        /// The symlink.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A symlink in the source tree has an absolute target or one that resolves outside the tree.
    #[error("symlink {} points outside the context: {}", path.display(), target.display())]
    SymlinkEscapes {
        /// The symlink, relative to the context root.
        path: PathBuf,
        /// Its target, as written.
        target: PathBuf,
    },

    /// A FIFO, socket or device file was found in the source tree.
    #[error("{} is a {kind}, which cannot go into a build context", path.display())]
    UnsupportedFileType {
        /// The entry, relative to the context root.
        path: PathBuf,
        /// What kind of file it is (`fifo`, `socket`, `block device`, `character device`).
        kind: &'static str,
    },

    /// A regular file in the source tree is bigger than [`crate::SourceRules::max_file_bytes`].
    #[error("{} is {size} bytes, over the {limit}-byte limit for one file in a source context", path.display())]
    SourceFileTooLarge {
        /// The file, relative to the context root.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit it is over.
        limit: u64,
    },

    /// The `.dockerignore` file could not be read.
    #[error("cannot read .dockerignore file {}", path.display())]
    ReadDockerignore {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A `.dockerignore` line could not be compiled into a matcher.
    #[error("invalid pattern `{pattern}` on line {line_number} of {}", path.display())]
    InvalidDockerignorePattern {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// 1-based line number.
        line_number: usize,
        /// The line as written (trimmed).
        pattern: String,
        /// The underlying error.
        source: ignore::Error,
    },

    /// The compiled `.dockerignore` patterns could not be combined into one matcher.
    #[error("cannot build a matcher from {}", path.display())]
    BuildDockerignoreMatcher {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// The underlying error.
        source: ignore::Error,
    },

    /// An `extra_deny` pattern is not valid gitignore syntax.
    #[error("invalid deny pattern `{pattern}`")]
    InvalidDenyPattern {
        /// The pattern as given.
        pattern: String,
        /// The underlying error.
        source: ignore::Error,
    },

    /// An `extra_deny` pattern starts with `!`, which would shrink the deny list.
    #[error("deny pattern `{pattern}` tries to re-include paths")]
    NegatedDenyPattern {
        /// The pattern as given.
        pattern: String,
    },

    /// A [`crate::Member`] path is empty, absolute, or has empty, `.` or `..` components.
    #[error("invalid member path `{path}`: {reason}")]
    InvalidMemberPath {
        /// The member path as given.
        path: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// Two [`crate::Member`]s share a path, or one member's path is a folder of another.
    #[error("member path `{path}` clashes with member `{other}`")]
    ConflictingMemberPath {
        /// The member path as given.
        path: String,
        /// The member it clashes with.
        other: String,
    },

    /// Writing the tarball stream failed.
    #[error("cannot write the tarball stream")]
    WriteArchive {
        /// The underlying error.
        source: io::Error,
    },

    /// An output path has no file name (e.g. `/` or `..`).
    #[error("output path {} has no file name", path.display())]
    OutputPathHasNoFileName {
        /// The path that was given.
        path: PathBuf,
    },

    /// A file could not be created.
    #[error("cannot create {}", path.display())]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A file could not be written, flushed or synced.
    #[error("cannot write {}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The atomic rename of a finished temp file failed.
    #[error("cannot rename {} to {}", from.display(), to.display())]
    RenameFile {
        /// The temp file.
        from: PathBuf,
        /// The final path.
        to: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The packer reported a digest that differs from the bytes that were actually written.
    #[error("packer reported sha256 {reported} for {} but the written bytes hash to {actual}", path.display())]
    DigestMismatch {
        /// The tarball file.
        path: PathBuf,
        /// What the packer returned.
        reported: String,
        /// What was written.
        actual: String,
    },

    /// The extraction folder could not be created or inspected.
    #[error("cannot prepare extraction folder {}", path.display())]
    PrepareDestination {
        /// The extraction folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// The extraction folder exists but is not a directory.
    #[error("extraction folder {} is not a directory", path.display())]
    DestinationNotDirectory {
        /// The extraction folder.
        path: PathBuf,
    },

    /// The extraction folder is not empty.
    #[error("extraction folder {} is not empty", path.display())]
    DestinationNotEmpty {
        /// The extraction folder.
        path: PathBuf,
    },

    /// The archive stream could not be read or parsed.
    #[error("cannot read the archive stream")]
    ReadArchive {
        /// The underlying error.
        source: io::Error,
    },

    /// An archive entry's header or data could not be read.
    #[error("cannot read archive entry {}", path.display())]
    ReadArchiveEntry {
        /// The entry path as stored in the archive.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// An archive entry has an absolute path, a `..` component, or an otherwise unusable path.
    #[error("archive entry {} has an unsafe path: {reason}", path.display())]
    UnsafeEntryPath {
        /// The entry path as stored in the archive.
        path: PathBuf,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// An archive entry is a hard link.
    #[error("archive entry {} is a hard link to {}, which is not allowed", path.display(), target.display())]
    HardLinkEntry {
        /// The entry path as stored in the archive.
        path: PathBuf,
        /// The link target as stored in the archive.
        target: PathBuf,
    },

    /// An archive symlink has an absolute target or one that resolves outside the extraction folder.
    #[error("archive entry {} is a symlink pointing outside the extraction folder: {}", path.display(), target.display())]
    ArchiveSymlinkEscapes {
        /// The entry path as stored in the archive.
        path: PathBuf,
        /// The link target as stored in the archive.
        target: PathBuf,
    },

    /// An archive entry is a device node, FIFO or another unsupported type.
    #[error("archive entry {} is a {kind}, which is not allowed", path.display())]
    UnsupportedEntryType {
        /// The entry path as stored in the archive.
        path: PathBuf,
        /// What kind of entry it is.
        kind: String,
    },

    /// Writing an archive entry would go through a symlink created earlier.
    #[error("archive entry {} would be written through symlink {}", path.display(), symlink.display())]
    EntryTraversesSymlink {
        /// The entry path as stored in the archive.
        path: PathBuf,
        /// The symlink in the way, relative to the extraction folder.
        symlink: PathBuf,
    },

    /// An archive entry clashes with an earlier entry of a different type.
    #[error("archive entry {} clashes with an existing entry of another type", path.display())]
    EntryConflict {
        /// The entry path as stored in the archive.
        path: PathBuf,
    },

    /// A file, folder or symlink could not be created while extracting.
    #[error("cannot create {}", path.display())]
    CreateEntry {
        /// The path below the extraction folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// Permissions could not be set while extracting.
    #[error("cannot set permissions on {}", path.display())]
    SetPermissions {
        /// The path below the extraction folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl ContextError {
    /// A short, actionable suggestion for the user, when the fix is obvious.
    pub fn hint(&self) -> Option<String> {
        match self {
            ContextError::SymlinkEscapes { path, .. } => Some(format!(
                "remove the symlink or add `{}` to .dockerignore",
                path.display()
            )),
            ContextError::UnsupportedFileType { path, .. } => {
                Some(format!("add `{}` to .dockerignore", path.display()))
            }
            ContextError::SourceFileTooLarge { path, .. } => Some(format!(
                "a source context holds code, not data: add `{}` to .dockerignore",
                path.display()
            )),
            ContextError::ReadFile { .. } => Some(
                "check the file's permissions, or add it to .dockerignore if it does not belong in the image"
                    .to_string(),
            ),
            ContextError::ReadDirectory { .. } => Some(
                "check the folder's permissions, or add it to .dockerignore if it does not belong in the image"
                    .to_string(),
            ),
            ContextError::FileChangedWhilePacking { .. } => {
                Some("stop whatever is writing to the project tree and build again".to_string())
            }
            ContextError::InvalidDockerignorePattern { .. } => {
                Some("fix or remove the pattern".to_string())
            }
            ContextError::InvalidDenyPattern { .. } => Some("fix or remove the pattern".to_string()),
            ContextError::NegatedDenyPattern { .. } => Some(
                "the deny list can only be extended; remove the pattern and keep such files out of the project tree"
                    .to_string(),
            ),
            ContextError::InvalidMemberPath { .. } => Some(
                "use a relative path with `/` separators and no empty, `.` or `..` components"
                    .to_string(),
            ),
            ContextError::UnsafeEntryPath { .. }
            | ContextError::HardLinkEntry { .. }
            | ContextError::ArchiveSymlinkEscapes { .. }
            | ContextError::UnsupportedEntryType { .. }
            | ContextError::EntryTraversesSymlink { .. }
            | ContextError::EntryConflict { .. } => Some(
                "the exported archive was refused and nothing of it is used: fix whatever writes this entry (in a builder, the step that fills /out)"
                    .to_string(),
            ),
            ContextError::CreateEntry { .. } => Some(
                "the entry cannot be created here (a name too long for the file system, or no space left): fix whatever writes it (in a builder, the step that fills /out)"
                    .to_string(),
            ),
            ContextError::DestinationNotEmpty { .. } => {
                Some("extract into a fresh, empty folder".to_string())
            }
            ContextError::RootNotDirectory { .. } => {
                Some("point the build at the project folder".to_string())
            }
            _ => None,
        }
    }
}
