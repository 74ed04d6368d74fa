//! `target/dockyard/release.json` (documented in docs/release.schema.json): the released images with their digests
//! or archives, and the facts the caller hands in (context, bases, scan and smoke summaries), plus its Markdown
//! summary for CI.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::Version;

/// Version of the release.json format (documented in docs/release.schema.json).
pub const RELEASE_SCHEMA_VERSION: u32 = 1;

/// `target/dockyard/release.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseManifest {
    /// Format version.
    pub schema_version: u32,
    /// A release, or a check (which tags and pushes nothing).
    pub kind: ManifestKind,
    /// Project name.
    pub project: String,
    /// The released version.
    pub version: Version,
    /// Git revision and whether the tree was dirty.
    pub git: GitState,
    /// Creation time (SOURCE_DATE_EPOCH or the commit time), written as RFC 3339 UTC.
    pub created: jiff::Timestamp,
    /// The registry, or null when archives were written.
    pub registry: Option<String>,
    /// Every image with its digest and tags.
    pub images: Vec<ReleasedImage>,
    /// The build context.
    pub context: ContextSummary,
    /// Base images by name: reference, id and origin.
    pub bases: BTreeMap<String, BaseSummary>,
    /// sha256 of staticfiles.json, as both images carry it.
    pub static_manifest_sha256: Option<String>,
    /// The scan gate's outcome.
    pub scan: ScanSummaryRecord,
    /// The smoke run's outcome.
    pub smoke: SmokeSummaryRecord,
    /// Tool versions.
    pub tools: BTreeMap<String, String>,
}

/// Whether release.json comes from a release or from a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestKind {
    /// `cargo xtask release`.
    Release,
    /// `cargo xtask check`: nothing tagged or pushed.
    Check,
}

impl fmt::Display for ManifestKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ManifestKind::Release => "release",
            ManifestKind::Check => "check",
        })
    }
}

/// Which of the project's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// The production (app) image.
    App,
    /// The nginx image.
    Nginx,
}

impl fmt::Display for ImageKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ImageKind::App => "app",
            ImageKind::Nginx => "nginx",
        })
    }
}

/// One image of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasedImage {
    /// `app` or `nginx`.
    pub name: ImageKind,
    /// The local image id.
    pub image_id: String,
    /// The repository it goes to (with the registry), or the local repository for archives.
    pub repository: String,
    /// The immutable tags.
    pub tags: Vec<String>,
    /// The moving tags (moved last).
    pub moving_tags: Vec<String>,
    /// The manifest digest the registry holds, read back after the push.
    pub digest: Option<String>,
    /// Whether it was pushed.
    pub pushed: bool,
    /// The image archive written instead, when there is no registry.
    pub archive: Option<Archive>,
    /// Its CycloneDX SBOM, when the scan wrote one, and where it was pushed.
    pub sbom: Option<crate::attachments::ReleasedSbom>,
    /// Its provenance (an in-toto statement, SLSA v1), once pushed.
    pub provenance: Option<crate::attachments::ReleasedProvenance>,
    /// The image of each platform of `[platforms] targets`, this machine's first, when there are several: then
    /// `digest` is the digest of the image index every tag names, and each entry's digest is its manifest's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<ReleasedPlatform>,
}

/// One platform's image of a multi-platform release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasedPlatform {
    /// The OCI platform, `linux/arm64`.
    pub platform: String,
    /// Its local image id.
    pub image_id: String,
    /// The tag it was pushed under before the index named it: `REPOSITORY:TAG-ARCH`.
    pub reference: Option<String>,
    /// Its manifest digest in the registry, read back after the push.
    pub digest: Option<String>,
    /// Its image archive, when there is no registry.
    pub archive: Option<Archive>,
}

/// An image archive (`docker save` format) with its checksum.
#[derive(Debug, Clone, Serialize)]
pub struct Archive {
    /// Where it is.
    pub path: PathBuf,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Git state at release time.
#[derive(Debug, Clone, Serialize)]
pub struct GitState {
    /// `git rev-parse HEAD`.
    pub revision: String,
    /// Uncommitted changes were present (only with --allow-dirty).
    pub dirty: bool,
}

/// The build context in release.json.
#[derive(Debug, Clone, Serialize)]
pub struct ContextSummary {
    /// Path of the tarball.
    pub path: PathBuf,
    /// Its sha256.
    pub sha256: String,
}

/// A base image in release.json.
#[derive(Debug, Clone, Serialize)]
pub struct BaseSummary {
    /// Reference.
    pub image: String,
    /// Image id: the digest recorded for the base.
    pub id: String,
    /// present, pulled, bootstrapped, or copied (from this machine's engine to a platform's own).
    pub origin: String,
}

/// The scan in release.json, including what was not scanned and why.
#[derive(Debug, Clone, Serialize)]
pub struct ScanSummaryRecord {
    /// Whether the gate passed.
    pub passed: bool,
    /// Findings over the policy.
    pub findings_over_policy: usize,
    /// Findings suppressed by ignore entries.
    pub suppressed: usize,
    /// Images whose vulnerability scan did not run, with the reason.
    pub not_scanned: Vec<NotScanned>,
    /// The JSON report, when the scan ran.
    pub report: Option<PathBuf>,
}

impl ScanSummaryRecord {
    /// The record for a project without a `[scan]` table: nothing scanned, for each of `images`.
    pub fn unscanned(images: impl IntoIterator<Item = ImageKind>) -> ScanSummaryRecord {
        ScanSummaryRecord {
            passed: false,
            findings_over_policy: 0,
            suppressed: 0,
            not_scanned: images
                .into_iter()
                .map(|image| NotScanned {
                    image: image.to_string(),
                    scanner: "all".to_owned(),
                    reason: "no [scan] table in deploy.toml".to_owned(),
                })
                .collect(),
            report: None,
        }
    }
}

/// One gap in the scan.
#[derive(Debug, Clone, Serialize)]
pub struct NotScanned {
    /// The image.
    pub image: String,
    /// What was not scanned.
    pub scanner: String,
    /// Why.
    pub reason: String,
}

/// The smoke run in release.json.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeSummaryRecord {
    /// Whether every check passed.
    pub passed: bool,
    /// Checks run.
    pub checks: usize,
    /// Checks failed.
    pub failed: usize,
    /// From container start to healthy.
    pub start_to_healthy_ms: Option<u64>,
    /// The JSON report.
    pub report: PathBuf,
}

impl ReleaseManifest {
    /// The release as Markdown for `$GITHUB_STEP_SUMMARY`: one row per image, then each gap in the scan.
    pub fn step_summary(&self) -> String {
        let mut markdown = format!(
            "### Dockyard {}: {} {}\n\n| image | repository | digest or archive |\n| --- | --- | --- |\n",
            self.kind, self.project, self.version
        );
        for image in &self.images {
            let target = match (&image.digest, &image.archive) {
                (Some(digest), _) => format!("`{digest}`"),
                (None, Some(archive)) => {
                    format!("`{}` (sha256 `{}`)", archive.path.display(), archive.sha256)
                }
                (None, None) => "not published".to_owned(),
            };
            markdown.push_str(&format!(
                "| {} | `{}` | {target} |\n",
                image.name, image.repository
            ));
            for platform in &image.platforms {
                let target = match (&platform.digest, &platform.archive) {
                    (Some(digest), _) => format!("`{digest}`"),
                    (None, Some(archive)) => format!("`{}`", archive.path.display()),
                    (None, None) => "not published".to_owned(),
                };
                markdown.push_str(&format!(
                    "| {} {} | `{}` | {target} |\n",
                    image.name,
                    platform.platform,
                    platform.reference.as_deref().unwrap_or(&image.repository)
                ));
            }
        }
        for gap in &self.scan.not_scanned {
            markdown.push_str(&format!(
                "\n> **{} scan not run for {}**: {}\n",
                gap.scanner, gap.image, gap.reason
            ));
        }
        markdown.push('\n');
        markdown
    }
}
