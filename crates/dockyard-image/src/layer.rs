//! Layers: a set of entries (folders, files, symlinks, whiteouts) at paths inside the image, written as one
//! uncompressed tar in path order with fixed times, owners and normalised modes; its sha256 is the layer's diff id.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::error::ImageError;

/// Mode of folders and of files with any execute bit.
const EXECUTABLE_MODE: u32 = 0o755;
/// Mode of other files.
const FILE_MODE: u32 = 0o644;
/// The name of the entry that hides everything a lower layer has in a folder (overlay's opaque whiteout).
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Who owns an entry (user and group alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// uid and gid 0.
    Root,
    /// This numeric uid and gid.
    Id(u32),
}

impl Owner {
    fn id(self) -> u64 {
        match self {
            Owner::Root => 0,
            Owner::Id(id) => u64::from(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Contents {
    Bytes(Vec<u8>),
    Host(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `implicit`: added as the parent of another entry; an explicit folder replaces it.
    Directory {
        mode: u32,
        owner: Owner,
        implicit: bool,
    },
    File {
        contents: Contents,
        mode: u32,
    },
    Symlink {
        target: String,
    },
}

/// A layer being described; nothing is read or written until [`LayerBuilder::write`].
#[derive(Debug, Clone, Default)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
    mtime: u64,
}

/// A written layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The tar file.
    pub path: PathBuf,
    /// `sha256:` and the hex sha256 of the tar: the layer's diff id in an image configuration.
    pub diff_id: String,
    /// Size of the tar in bytes.
    pub size: u64,
}

/// `opt/venv` from `/opt/venv/` or `opt/venv`: a relative path of plain components, or an error.
fn clean(path: &str) -> Result<String, ImageError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(ImageError::BadPath {
            path: path.to_owned(),
        });
    }
    Ok(parts.join("/"))
}

impl LayerBuilder {
    /// An empty layer whose entries get `mtime` (seconds since the epoch: `SOURCE_DATE_EPOCH`, or 0).
    pub fn new(mtime: u64) -> LayerBuilder {
        LayerBuilder {
            entries: BTreeMap::new(),
            mtime,
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<(), ImageError> {
        let path = clean(path)?;
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, rest)| rest)
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.entries.get(&parent) {
                None => {
                    self.entries.insert(
                        parent.clone(),
                        Entry::Directory {
                            mode: EXECUTABLE_MODE,
                            owner: Owner::Root,
                            implicit: true,
                        },
                    );
                }
                Some(Entry::Directory { .. }) => {}
                Some(_) => return Err(ImageError::Duplicate { path: parent }),
            }
        }
        match (self.entries.get(&path), &entry) {
            (None, _) => {}
            (Some(Entry::Directory { implicit: true, .. }), Entry::Directory { .. }) => {}
            (Some(Entry::Directory { .. }), Entry::Directory { implicit: true, .. }) => {
                return Ok(())
            }
            // A later file replaces an earlier one, as a later COPY does.
            (
                Some(Entry::File { .. } | Entry::Symlink { .. }),
                Entry::File { .. } | Entry::Symlink { .. },
            ) => {}
            (Some(_), _) => return Err(ImageError::Duplicate { path }),
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// A folder with its mode and owner.
    pub fn directory(&mut self, path: &str, mode: u32, owner: Owner) -> Result<(), ImageError> {
        self.insert(
            path,
            Entry::Directory {
                mode,
                owner,
                implicit: false,
            },
        )
    }

    /// A root-owned file holding `bytes`.
    pub fn file(&mut self, path: &str, bytes: Vec<u8>, mode: u32) -> Result<(), ImageError> {
        self.insert(
            path,
            Entry::File {
                contents: Contents::Bytes(bytes),
                mode,
            },
        )
    }

    /// A root-owned file read from the host when the layer is written; mode 0755 when it has any execute bit on the
    /// host, 0644 otherwise.
    pub fn host_file(&mut self, path: &str, host: &Path) -> Result<(), ImageError> {
        let metadata = std::fs::metadata(host).map_err(ImageError::io("reading", host))?;
        self.insert(
            path,
            Entry::File {
                contents: Contents::Host(host.to_path_buf()),
                mode: normalised_mode(&metadata),
            },
        )
    }

    /// Hides every entry lower layers have in folder `path` (an opaque whiteout), as `rm -rf path/*` would.
    pub fn opaque(&mut self, path: &str) -> Result<(), ImageError> {
        let path = clean(path)?;
        self.file(&format!("{path}/{OPAQUE_WHITEOUT}"), Vec::new(), FILE_MODE)
    }

    /// Everything below host folder `root` at `prefix` inside the image: root-owned, folders 0755, files 0755 or
    /// 0644 by their execute bit, symlinks stored as links (never followed). FIFOs, sockets and devices are refused.
    pub fn tree(&mut self, prefix: &str, root: &Path) -> Result<(), ImageError> {
        let prefix = clean(prefix)?;
        self.directory(&prefix, EXECUTABLE_MODE, Owner::Root)?;
        for entry in walkdir::WalkDir::new(root)
            .min_depth(1)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|error| {
                let path = error.path().unwrap_or(root).to_path_buf();
                ImageError::Io {
                    operation: "listing",
                    path,
                    source: io::Error::other(error.to_string()),
                }
            })?;
            let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let relative = relative.to_str().ok_or_else(|| ImageError::BadPath {
                path: relative.to_string_lossy().into_owned(),
            })?;
            let inside = format!("{prefix}/{relative}");
            let kind = entry.file_type();
            if kind.is_dir() {
                self.directory(&inside, EXECUTABLE_MODE, Owner::Root)?;
            } else if kind.is_symlink() {
                let target = std::fs::read_link(entry.path())
                    .map_err(ImageError::io("reading the link", entry.path()))?;
                let target = target.to_str().ok_or_else(|| ImageError::BadPath {
                    path: target.to_string_lossy().into_owned(),
                })?;
                self.insert(
                    &inside,
                    Entry::Symlink {
                        target: target.to_owned(),
                    },
                )?;
            } else if kind.is_file() {
                self.host_file(&inside, entry.path())?;
            } else {
                return Err(ImageError::BadPath { path: inside });
            }
        }
        Ok(())
    }

    /// Writes the layer to `path`: entries in path order (parents first), GNU headers, every time `mtime`, no user
    /// or group names.
    pub fn write(self, path: &Path) -> Result<Layer, ImageError> {
        let file = File::create(path).map_err(ImageError::io("creating", path))?;
        let writer = HashingWriter {
            inner: BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            size: 0,
        };
        let mut builder = tar::Builder::new(writer);
        let write_error = ImageError::io("writing", path);
        let res = self.append_all(&mut builder);
        let writer = match res.and_then(|()| builder.into_inner()) {
            Ok(writer) => writer,
            Err(error) => return Err(write_error(error)),
        };
        let HashingWriter {
            mut inner,
            hasher,
            size,
        } = writer;
        inner.flush().map_err(ImageError::io("writing", path))?;
        Ok(Layer {
            path: path.to_path_buf(),
            diff_id: format!("sha256:{}", hex::encode(hasher.finalize())),
            size,
        })
    }

    fn append_all<W: Write>(&self, builder: &mut tar::Builder<W>) -> io::Result<()> {
        for (path, entry) in &self.entries {
            let mut header = Header::new_gnu();
            header.set_mtime(self.mtime);
            match entry {
                Entry::Directory { mode, owner, .. } => {
                    header.set_entry_type(EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_uid(owner.id());
                    header.set_gid(owner.id());
                    header.set_size(0);
                    builder.append_data(&mut header, format!("{path}/"), io::empty())?;
                }
                Entry::File { contents, mode } => {
                    header.set_entry_type(EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_uid(0);
                    header.set_gid(0);
                    match contents {
                        Contents::Bytes(bytes) => {
                            header.set_size(bytes.len() as u64);
                            builder.append_data(&mut header, path, &bytes[..])?;
                        }
                        Contents::Host(host) => {
                            let file = File::open(host)?;
                            let size = file.metadata()?.len();
                            header.set_size(size);
                            builder.append_data(&mut header, path, file.take(size))?;
                        }
                    }
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_uid(0);
                    header.set_gid(0);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target)?;
                }
            }
        }
        builder.finish()
    }
}

fn normalised_mode(metadata: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 != 0 {
            return EXECUTABLE_MODE;
        }
    }
    let _ = metadata;
    FILE_MODE
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
