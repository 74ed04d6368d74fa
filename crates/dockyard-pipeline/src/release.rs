//! `release` and `check`: after build, scan and smoke passed, tag and push the images (or write image archives
//! when no registry is configured), verify the pushed digests by reading them back, move the moving tags last,
//! and write `target/dockyard/release.json`.
//!
//! Nothing is tagged or pushed before every gate passed; a moving tag moves only after every image pushed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockyard_engine::{PushFailureKind, RegistryCredentials};
use serde::Serialize;

use crate::plan::Prepared;
use crate::provenance::rfc3339;
use crate::run::Session;
use crate::scan::ScanOutcome;
use crate::smoke::SmokeOutcome;
use crate::state::ImageRecord;
use crate::{progress, PipelineError};

/// Environment variable that overrides `[release] registry`.
pub const REGISTRY_ENV: &str = "DOCKYARD_REGISTRY";
/// Version of the release.json format (documented in docs/release.schema.json).
pub const RELEASE_SCHEMA_VERSION: u32 = 1;

/// How a release runs.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// The version to release; default: the git tag at HEAD (without a leading `v`), else `project.version`.
    pub version: Option<String>,
    /// Release from a git tree with uncommitted changes.
    pub allow_dirty: bool,
    /// Show what would be tagged and pushed, and do neither.
    pub dry_run: bool,
}

/// One image of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasedImage {
    /// `app` or `nginx`.
    pub name: String,
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

/// `target/dockyard/release.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseManifest {
    /// Format version.
    pub schema_version: u32,
    /// `release` or `check` (a check tags and pushes nothing).
    pub kind: String,
    /// Project name.
    pub project: String,
    /// The released version.
    pub version: String,
    /// Git revision and whether the tree was dirty.
    pub git: GitState,
    /// RFC 3339 creation time (SOURCE_DATE_EPOCH or the commit time).
    pub created: String,
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
    /// present, pulled or bootstrapped.
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

/// Refuses a dirty tree unless allowed, and works out the version. Runs before the engine is involved.
pub fn preflight(
    prepared: &Prepared,
    options: &ReleaseOptions,
) -> Result<(String, bool), PipelineError> {
    let root = &prepared.config.root;
    let git = |args: &[&str]| crate::provenance::git(root, args);
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| !status.is_empty());
    if dirty && !options.allow_dirty {
        return Err(PipelineError::ReleaseRefused {
            reason: "the git tree has uncommitted changes".to_owned(),
            hint:
                "commit them, or pass --allow-dirty (release.json records that the tree was dirty)"
                    .to_owned(),
        });
    }
    let version = options
        .version
        .clone()
        .or_else(|| {
            git(&["describe", "--tags", "--exact-match"])
                .map(|tag| tag.trim_start_matches('v').to_owned())
        })
        .unwrap_or_else(|| prepared.config.project.version.clone());
    let valid = !version.is_empty()
        && version.len() <= 100
        && version
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric() || first == '_')
        && version
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "_.-".contains(character));
    if !valid {
        return Err(PipelineError::ReleaseRefused {
            reason: format!("`{version}` is not a valid image tag"),
            hint:
                "pass --version with letters, digits, `.`, `_` and `-`, for example --version 1.2.3"
                    .to_owned(),
        });
    }
    Ok((version, dirty))
}

/// The images to release with their repositories and rendered tags.
fn planned_images(
    session: &Session,
    version: &str,
    registry: Option<&str>,
) -> Result<Vec<(ImageRecord, ReleasedImage)>, PipelineError> {
    let config = &session.prepared.config;
    let release = config
        .release
        .clone()
        .ok_or(PipelineError::ReleaseRefused {
            reason: "deploy.toml has no [release] table".to_owned(),
            hint: "add [release] with tags and moving_tags (see the repository's deploy.toml)"
                .to_owned(),
        })?;
    let git_sha: String = session
        .prepared
        .provenance
        .revision
        .chars()
        .take(12)
        .collect();
    let render = |templates: &[String]| -> Vec<String> {
        templates
            .iter()
            .map(|template| {
                dockyard_config::Release::render_tag(
                    template,
                    version,
                    &git_sha,
                    &config.project.name,
                )
            })
            .collect()
    };
    let mut images = vec![(
        "app",
        session.production_image()?,
        release.app_repository.clone(),
    )];
    if let (Some(record), Some(repository)) = (
        session.state.nginx.clone(),
        release.nginx_repository.clone(),
    ) {
        images.push(("nginx", record, repository));
    }
    Ok(images
        .into_iter()
        .map(|(name, record, repository)| {
            let repository = match registry {
                Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
                None => repository,
            };
            let released = ReleasedImage {
                name: name.to_owned(),
                image_id: record.id.clone(),
                repository,
                tags: render(&release.tags),
                moving_tags: render(&release.moving_tags),
                digest: None,
                pushed: false,
                archive: None,
            };
            (record, released)
        })
        .collect())
}

/// Tags and pushes (or archives) the images after every gate passed, and writes release.json.
/// `push` is false for `check`, which writes release.json and stops before tagging.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the gates' outcomes are its inputs"
)]
pub async fn publish(
    session: &Session,
    options: &ReleaseOptions,
    version: &str,
    dirty: bool,
    scan: Option<&ScanOutcome>,
    smoke: &SmokeOutcome,
    push: bool,
) -> Result<ReleaseManifest, PipelineError> {
    let started = Instant::now();
    let config = &session.prepared.config;
    let release = config.release.clone();
    let registry = std::env::var(REGISTRY_ENV)
        .ok()
        .filter(|value| !value.is_empty())
        .or_else(|| {
            release
                .as_ref()
                .and_then(|release| release.registry.clone())
        });
    let mut images = planned_images(session, version, registry.as_deref())?;
    let kind = if push { "release" } else { "check" };
    for (_, image) in &images {
        let all_tags: Vec<String> = image
            .tags
            .iter()
            .chain(&image.moving_tags)
            .map(|tag| format!("{}:{tag}", image.repository))
            .collect();
        let action = match (&registry, push && !options.dry_run) {
            (_, false) => "would tag",
            (Some(_), true) => "tagging and pushing",
            (None, true) => "tagging and archiving",
        };
        progress::step(
            kind,
            &format!(
                "{} {}: {action} {}",
                image.name,
                crate::plan::short(&image.image_id),
                all_tags.join(", ")
            ),
        );
    }
    if push && !options.dry_run {
        match &registry {
            Some(registry) => push_all(session, registry, &mut images, release.as_ref()).await?,
            None => archive_all(session, version, &mut images).await?,
        }
    }
    let manifest = release_manifest(
        session,
        kind,
        version,
        dirty,
        registry,
        images.into_iter().map(|(_, image)| image).collect(),
        scan,
        smoke,
    )
    .await?;
    if !options.dry_run {
        let path = session.prepared.paths.target.join("release.json");
        let mut text =
            serde_json::to_string_pretty(&manifest).map_err(|error| PipelineError::Io {
                operation: "serialising release.json",
                path: path.clone(),
                source: std::io::Error::other(error),
            })?;
        text.push('\n');
        std::fs::write(&path, text).map_err(|source| PipelineError::Io {
            operation: "writing",
            path: path.clone(),
            source,
        })?;
        progress::done(kind, started, &format!("wrote {}", path.display()));
        progress::append_step_summary(&release_step_summary(&manifest));
    }
    Ok(manifest)
}

async fn push_all(
    session: &Session,
    registry: &str,
    images: &mut [(ImageRecord, ReleasedImage)],
    release: Option<&dockyard_config::Release>,
) -> Result<(), PipelineError> {
    let engine = &session.engine;
    let (attempts, backoff_ms, username_env, password_env) = match release {
        Some(release) => (
            release.push_attempts,
            release.push_backoff_ms,
            release.username_env.clone(),
            release.password_env.clone(),
        ),
        None => (
            4,
            500,
            "DOCKYARD_REGISTRY_USERNAME".to_owned(),
            "DOCKYARD_REGISTRY_PASSWORD".to_owned(),
        ),
    };
    let host = registry.split('/').next().unwrap_or(registry);
    let credentials = crate::credentials::resolve_credentials(host, &username_env, &password_env)?;
    let retry = RetryPolicy {
        attempts: attempts.max(1),
        backoff: Duration::from_millis(backoff_ms),
    };
    // Immutable tags of every image first; moving tags only after all of them are pushed and verified.
    for (_, image) in images.iter_mut() {
        for tag in &image.tags {
            let reference = format!("{}:{tag}", image.repository);
            engine.tag_image(&image.image_id, &reference).await?;
            let digest =
                push_with_retries(session, &reference, credentials.as_ref(), &retry).await?;
            verify_digest(session, &reference, &digest, credentials.as_ref()).await?;
            if image.digest.as_ref().is_some_and(|known| *known != digest) {
                return Err(PipelineError::PushFailed {
                    reference,
                    attempts: 1,
                    message: format!(
                        "the registry holds {digest}, but another tag of the same image holds {}",
                        image.digest.clone().unwrap_or_default()
                    ),
                });
            }
            image.digest = Some(digest);
        }
        image.pushed = true;
    }
    for (_, image) in images.iter() {
        for tag in &image.moving_tags {
            let reference = format!("{}:{tag}", image.repository);
            engine.tag_image(&image.image_id, &reference).await?;
            let digest =
                push_with_retries(session, &reference, credentials.as_ref(), &retry).await?;
            verify_digest(session, &reference, &digest, credentials.as_ref()).await?;
            progress::detail(&format!("moved {reference} to {digest}"));
        }
    }
    Ok(())
}

/// How often and how patiently a push is tried again after a transient registry error.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn wait_after(&self, attempt: u32) -> Duration {
        self.backoff.saturating_mul(1u32 << (attempt - 1).min(10))
    }
}

async fn push_with_retries(
    session: &Session,
    reference: &str,
    credentials: Option<&RegistryCredentials>,
    retry: &RetryPolicy,
) -> Result<String, PipelineError> {
    let mut attempt = 1;
    loop {
        let started = Instant::now();
        let res = session
            .engine
            .push_image(reference, credentials, &mut |line| {
                progress::output("push", line)
            })
            .await;
        match res {
            Ok(digest) => {
                progress::done(
                    "push",
                    started,
                    &format!(
                        "{reference} {digest} (attempt {attempt} of {})",
                        retry.attempts
                    ),
                );
                return Ok(digest);
            }
            Err(error) if error.is_unreachable() => return Err(error.into()),
            Err(error) => {
                let transient = matches!(error.push_failure_kind(), PushFailureKind::Transient);
                if !transient || attempt >= retry.attempts {
                    let kind = if transient {
                        "still failing"
                    } else {
                        "permanent error"
                    };
                    return Err(PipelineError::PushFailed {
                        reference: reference.to_owned(),
                        attempts: attempt,
                        message: format!("{kind}: {error}"),
                    });
                }
                let wait = retry.wait_after(attempt);
                progress::warning(&format!(
                    "push of {reference} failed (transient, attempt {attempt} of {}): {error}; retrying in {} ms",
                    retry.attempts,
                    wait.as_millis()
                ));
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

async fn verify_digest(
    session: &Session,
    reference: &str,
    pushed: &str,
    credentials: Option<&RegistryCredentials>,
) -> Result<(), PipelineError> {
    let read_back = session
        .engine
        .registry_digest(reference, credentials)
        .await?;
    if read_back.as_deref() != Some(pushed) {
        return Err(PipelineError::PushFailed {
            reference: reference.to_owned(),
            attempts: 1,
            message: format!(
                "the push reported {pushed}, but the registry answers {}",
                read_back.unwrap_or_else(|| "no such tag".to_owned())
            ),
        });
    }
    Ok(())
}

/// Without a registry: tags locally and writes one `docker save` archive per image with a sha256 beside it.
async fn archive_all(
    session: &Session,
    version: &str,
    images: &mut [(ImageRecord, ReleasedImage)],
) -> Result<(), PipelineError> {
    let folder = session.prepared.paths.target.join("release");
    std::fs::create_dir_all(&folder).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: folder.clone(),
        source,
    })?;
    progress::warning("no registry configured ([release] registry or DOCKYARD_REGISTRY): writing image archives instead of pushing");
    for (_, image) in images.iter_mut() {
        for tag in image.tags.iter().chain(&image.moving_tags) {
            session
                .engine
                .tag_image(&image.image_id, &format!("{}:{tag}", image.repository))
                .await?;
        }
        let reference = format!(
            "{}:{}",
            image.repository,
            image.tags.first().map_or(version, String::as_str)
        );
        let path = folder.join(format!(
            "{}-{}-{version}.tar",
            session.prepared.config.project.name, image.name
        ));
        let size = session
            .engine
            .export_image_to_file(&reference, &path)
            .await?;
        let sha256 = dockyard_context::sha256_file(&path)?;
        let sidecar = PathBuf::from(format!("{}.sha256", path.display()));
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        std::fs::write(&sidecar, format!("{sha256}  {file_name}\n")).map_err(|source| {
            PipelineError::Io {
                operation: "writing",
                path: sidecar.clone(),
                source,
            }
        })?;
        progress::detail(&format!(
            "{}: {} ({} MiB, sha256 {})",
            image.name,
            path.display(),
            size / (1024 * 1024),
            &sha256[..12]
        ));
        image.archive = Some(Archive { path, sha256, size });
    }
    Ok(())
}

/// The release as Markdown for `$GITHUB_STEP_SUMMARY`.
fn release_step_summary(manifest: &ReleaseManifest) -> String {
    let mut markdown = format!(
        "### Dockyard {}: {} {}\n\n| image | repository | digest or archive |\n| --- | --- | --- |\n",
        manifest.kind, manifest.project, manifest.version
    );
    for image in &manifest.images {
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
    }
    for gap in &manifest.scan.not_scanned {
        markdown.push_str(&format!(
            "\n> **{} scan not run for {}**: {}\n",
            gap.scanner, gap.image, gap.reason
        ));
    }
    markdown.push('\n');
    markdown
}

#[allow(
    clippy::too_many_arguments,
    reason = "assembles the manifest from every stage's outcome"
)]
async fn release_manifest(
    session: &Session,
    kind: &str,
    version: &str,
    dirty: bool,
    registry: Option<String>,
    images: Vec<ReleasedImage>,
    scan: Option<&ScanOutcome>,
    smoke: &SmokeOutcome,
) -> Result<ReleaseManifest, PipelineError> {
    let export = session.exported_context()?;
    let bases = session
        .state
        .bases
        .iter()
        .map(|(name, record)| {
            (
                name.clone(),
                BaseSummary {
                    image: record.image.clone(),
                    id: record.id.clone(),
                    origin: record.origin.clone(),
                },
            )
        })
        .collect();
    let scan_record = match scan {
        Some(outcome) => ScanSummaryRecord {
            passed: outcome.summary.evaluation.passed(),
            findings_over_policy: outcome.summary.evaluation.n_failing(),
            suppressed: outcome.summary.evaluation.suppressed_counts.values().sum(),
            not_scanned: outcome
                .vulnerability_scan_not_run()
                .into_iter()
                .map(|(image, reason)| NotScanned {
                    image,
                    scanner: "vuln".to_owned(),
                    reason,
                })
                .collect(),
            report: Some(outcome.json_path.clone()),
        },
        None => ScanSummaryRecord {
            passed: false,
            findings_over_policy: 0,
            suppressed: 0,
            not_scanned: images
                .iter()
                .map(|image| NotScanned {
                    image: image.name.clone(),
                    scanner: "all".to_owned(),
                    reason: "no [scan] table in deploy.toml".to_owned(),
                })
                .collect(),
            report: None,
        },
    };
    let mut tools = BTreeMap::from([("dockyard".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]);
    if let Ok(engine) = session.engine.version().await {
        tools.insert(
            "docker engine".to_owned(),
            format!("{} (API {})", engine.version, engine.api_version),
        );
    }
    if let Some(program) = dockyard_scan::runner::find_trivy() {
        if let Ok(version) = dockyard_scan::runner::trivy_version(&program) {
            tools.insert("trivy".to_owned(), version);
        }
    }
    Ok(ReleaseManifest {
        schema_version: RELEASE_SCHEMA_VERSION,
        kind: kind.to_owned(),
        project: session.prepared.config.project.name.clone(),
        version: version.to_owned(),
        git: GitState {
            revision: session.prepared.provenance.revision.clone(),
            dirty,
        },
        created: rfc3339(session.prepared.provenance.created_epoch),
        registry,
        images,
        context: ContextSummary {
            path: export.path.clone(),
            sha256: export.sha256.clone(),
        },
        bases,
        static_manifest_sha256: export.static_manifest_sha256.clone(),
        scan: scan_record,
        smoke: SmokeSummaryRecord {
            passed: smoke.report.passed(),
            checks: smoke.report.checks.len(),
            failed: smoke.report.n_failed(),
            start_to_healthy_ms: smoke.report.start_to_healthy_ms,
            report: smoke.json_path.clone(),
        },
        tools,
    })
}

#[cfg(test)]
mod tests {
    use super::RetryPolicy;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_after_each_failure() {
        let retry = RetryPolicy {
            attempts: 4,
            backoff: Duration::from_millis(500),
        };
        let waits: Vec<u128> = (1..4)
            .map(|attempt| retry.wait_after(attempt).as_millis())
            .collect();
        assert_eq!(waits, [500, 1000, 2000]);
    }
}
