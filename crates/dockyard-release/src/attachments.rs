//! What is pushed beside each image: its SBOM and its provenance, each as a one-file image tagged
//! `REPOSITORY:sha256-<hex>.<kind>` (the tag cosign derives from the image's digest), written by Dockyard, loaded
//! through the engine and pushed with the image's own retries, its digest read back. Anything that pulls images can
//! fetch them; no registry extension is needed.

use std::path::{Path, PathBuf};

use dockyard_image::{ArchiveLayer, ImageConfig, LayerBuilder, RuntimeConfig};
use serde::Serialize;

use crate::ReleaseError;

/// The label of an attachment image naming the manifest digest of the image it describes.
pub const SUBJECT_LABEL: &str = "dev.dockyard.subject";
/// The label of an attachment image saying what it holds (`sbom`, `provenance`).
pub const ATTACHMENT_LABEL: &str = "dev.dockyard.attachment";

/// What an attachment image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// The image's CycloneDX SBOM.
    Sbom,
    /// The image's in-toto statement with a SLSA v1 provenance predicate.
    Provenance,
    /// The same statement signed: a DSSE envelope (see [`crate::signing`]).
    SignedProvenance,
}

impl AttachmentKind {
    /// The tag suffix and the [`ATTACHMENT_LABEL`] value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Sbom => "sbom",
            AttachmentKind::Provenance | AttachmentKind::SignedProvenance => "provenance",
        }
    }

    /// The one file the attachment image holds, at its root.
    pub fn file_name(self) -> &'static str {
        match self {
            AttachmentKind::Sbom => "sbom.cdx.json",
            AttachmentKind::Provenance => "provenance.intoto.json",
            AttachmentKind::SignedProvenance => "provenance.dsse.json",
        }
    }

    /// The tag of this attachment of the image whose manifest digest is `digest`: `sha256:abc` gives
    /// `sha256-abc.sbom`.
    pub fn tag(self, digest: &str) -> String {
        format!("{}.{}", digest.replace(':', "-"), self.as_str())
    }
}

/// An image's SBOM as the scan wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SbomFile {
    /// The CycloneDX JSON on disk.
    pub path: PathBuf,
    /// Its sha256 (hex).
    pub sha256: String,
    /// The CycloneDX version, `1.7`.
    pub spec_version: String,
    /// How many components it lists.
    pub components: usize,
}

/// Where an attachment was pushed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pushed {
    /// `REPOSITORY:sha256-<hex>.<kind>`, once pushed.
    pub reference: Option<String>,
    /// The manifest digest the registry holds for it, read back after the push.
    pub digest: Option<String>,
}

/// An image's SBOM in release.json: the file, and where it was pushed.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasedSbom {
    /// The file.
    #[serde(flatten)]
    pub file: SbomFile,
    /// Where it was pushed.
    #[serde(flatten)]
    pub pushed: Pushed,
}

/// An image's provenance in release.json: the statement written for the pushed digest (or its signed envelope), and
/// where it was pushed.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasedProvenance {
    /// The in-toto statement, or its DSSE envelope, on disk.
    pub path: PathBuf,
    /// Its sha256 (hex).
    pub sha256: String,
    /// The id of the key that signed it (the hex sha256 of the raw Ed25519 public key); `None`: unsigned.
    pub signed_by: Option<String>,
    /// Where it was pushed.
    #[serde(flatten)]
    pub pushed: Pushed,
}

/// Writes, in `folder`, the archive of the image holding `bytes` as `kind`'s file for the image `subject` (its
/// manifest digest), tagged `reference`, for `architecture`; returns the archive's path. Blocking.
pub fn write_attachment_image(
    kind: AttachmentKind,
    bytes: Vec<u8>,
    subject: &str,
    reference: &str,
    architecture: &str,
    created: &str,
    folder: &Path,
) -> Result<PathBuf, ReleaseError> {
    std::fs::create_dir_all(folder).map_err(|source| ReleaseError::Io {
        operation: "creating",
        path: folder.to_owned(),
        source,
    })?;
    let mut layer = LayerBuilder::new(0);
    layer.file(kind.file_name(), bytes, 0o644)?;
    let layer = layer.write(&folder.join(format!("{}-layer.tar", kind.as_str())))?;
    let labels = [
        (SUBJECT_LABEL.to_owned(), subject.to_owned()),
        (ATTACHMENT_LABEL.to_owned(), kind.as_str().to_owned()),
    ];
    let config = ImageConfig::new(
        architecture,
        created,
        RuntimeConfig {
            labels: labels.into(),
            ..RuntimeConfig::default()
        },
        &[(
            layer.diff_id.clone(),
            format!("COPY {} / # dockyard {}", kind.file_name(), kind.as_str()),
        )],
    );
    let archive = folder.join(format!("{}-image.tar", kind.as_str()));
    dockyard_image::write_archive(
        &archive,
        &config,
        reference,
        &[ArchiveLayer {
            diff_id: layer.diff_id,
            file: Some(layer.path),
        }],
    )?;
    Ok(archive)
}
