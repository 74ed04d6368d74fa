//! `release` and `check` once every gate passed: tag and push the images (or write image archives when no
//! registry is configured), verify the pushed digests by reading them back, move the moving tags last, and write
//! `release.json`.
//!
//! Nothing is tagged or pushed before every gate passed; a moving tag moves only after every image pushed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dockyard_engine::{Engine, PushFailureKind, RegistryCredentials};

use crate::attachments::{AttachmentKind, Pushed, ReleasedProvenance, ReleasedSbom, SbomFile};
use crate::index::{self, RegistryClient};
use crate::manifest::{
    BaseSummary, ContextSummary, GitState, ImageKind, ManifestKind, ReleaseManifest, ReleasedImage,
    ReleasedPlatform, ScanSummaryRecord, SmokeSummaryRecord, RELEASE_SCHEMA_VERSION,
};
use crate::provenance::BuildFacts;
use crate::signing::SigningKey;
use crate::{Preflight, Progress, ReleaseError};

/// Environment variable that overrides `[release] registry`.
pub const REGISTRY_ENV: &str = "DOCKYARD_REGISTRY";

/// How a release runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseOptions {
    /// The version to release; default: the git tag at HEAD (without a leading `v`), else `project.version`.
    pub version: Option<String>,
    /// Release from a git tree with uncommitted changes.
    pub allow_dirty: bool,
    /// Show what would be tagged and pushed, and do neither.
    pub dry_run: bool,
}

impl ReleaseOptions {
    /// The options of a check: any tree (a check publishes nothing), the version found at HEAD.
    pub fn for_check() -> ReleaseOptions {
        ReleaseOptions {
            allow_dirty: true,
            ..ReleaseOptions::default()
        }
    }
}

/// What a publication does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `check`: writes release.json and stops before tagging.
    Check,
    /// `release`: tags, pushes or archives (unless a dry run), and writes release.json (unless a dry run).
    Release(ReleaseOptions),
}

impl Mode {
    fn kind(&self) -> ManifestKind {
        match self {
            Mode::Check => ManifestKind::Check,
            Mode::Release(_) => ManifestKind::Release,
        }
    }

    /// Whether images are tagged and published (a release that is not a dry run).
    fn publishes(&self) -> bool {
        matches!(self, Mode::Release(options) if !options.dry_run)
    }

    /// Whether release.json is written (everything but a dry run).
    fn writes_manifest(&self) -> bool {
        !matches!(self, Mode::Release(options) if options.dry_run)
    }
}

/// A built image to release, as the pipeline recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageToRelease {
    /// Which image.
    pub kind: ImageKind,
    /// Its local image id.
    pub image_id: String,
    /// Its SBOM, when the scan wrote one: pushed beside it (see [`crate::attachments`]).
    pub sbom: Option<SbomFile>,
    /// With several `[platforms] targets`: the image of each platform, this machine's (`image_id`) first; they
    /// are released as one image index per tag (see [`crate::index`]). Empty for one platform.
    pub platforms: Vec<PlatformImage>,
}

/// One platform's image of an [`ImageToRelease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformImage {
    /// The OCI platform, `linux/arm64`.
    pub platform: String,
    /// Its local image id.
    pub image_id: String,
}

/// Everything a release or a check needs, filled by the caller after every gate passed.
pub struct Publication<'a> {
    /// The engine holding the images.
    pub engine: &'a Engine,
    /// The engine holding a platform's images instead (`[platforms] engines`), by OCI platform (`linux/arm64`):
    /// they are tagged, pushed and archived there.
    pub platform_engines: BTreeMap<String, Engine>,
    /// Where progress goes.
    pub progress: &'a dyn Progress,
    /// Check or release.
    pub mode: Mode,
    /// The version and the tree's state, from [`crate::preflight`].
    pub preflight: Preflight,
    /// `project.name`.
    pub project: String,
    /// `[release]`; a publication without one is refused.
    pub release: Option<dockyard_config::Release>,
    /// `git rev-parse HEAD`, or `unknown`.
    pub revision: String,
    /// Creation time (SOURCE_DATE_EPOCH or the commit time).
    pub created: jiff::Timestamp,
    /// The images: the app image, and the nginx image when there is one (released when `[release]` names its
    /// repository).
    pub images: Vec<ImageToRelease>,
    /// The exported build context.
    pub context: ContextSummary,
    /// Base images by name.
    pub bases: BTreeMap<String, BaseSummary>,
    /// sha256 of staticfiles.json, as both images carry it.
    pub static_manifest_sha256: Option<String>,
    /// The scan gate's outcome; `None` without a `[scan]` table.
    pub scan: Option<ScanSummaryRecord>,
    /// The version of the trivy the scan ran, for release.json's tools.
    pub trivy_version: Option<String>,
    /// The smoke run's outcome.
    pub smoke: SmokeSummaryRecord,
    /// The project's output paths: `release.json` and the archives' folder are there.
    pub paths: dockyard_config::Paths,
    /// What the provenance of each pushed image says it was built from and by.
    pub build: BuildFacts,
}

/// How often and how patiently a push is tried again after a transient registry error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based).
    pub fn wait_after(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
    }
}

/// Tags and pushes (or archives) the images of `publication`, and writes release.json; a check writes release.json
/// and stops before tagging, a dry run only says what it would do.
pub async fn publish(publication: Publication<'_>) -> Result<ReleaseManifest, ReleaseError> {
    let started = Instant::now();
    let progress = publication.progress;
    let release = publication
        .release
        .clone()
        .ok_or(ReleaseError::NoReleaseTable)?;
    let registry = std::env::var(REGISTRY_ENV)
        .ok()
        .filter(|value| !value.is_empty())
        .or_else(|| release.registry.clone());
    let mut images = planned_images(&publication, &release, registry.as_deref());
    let kind = publication.mode.kind();
    for image in &images {
        let all_tags: Vec<String> = image
            .tags
            .iter()
            .chain(&image.moving_tags)
            .map(|tag| format!("{}:{tag}", image.repository))
            .collect();
        let action = match (&registry, publication.mode.publishes()) {
            (_, false) => "would tag",
            (Some(_), true) => "tagging and pushing",
            (None, true) => "tagging and archiving",
        };
        let platforms = match image.platforms.as_slice() {
            [] => String::new(),
            platforms if registry.is_none() => {
                format!(" ({} archives, one per platform)", platforms.len())
            }
            platforms => format!(
                " (one index of {} per tag)",
                platforms
                    .iter()
                    .map(|platform| platform.platform.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        };
        progress.step(
            &kind.to_string(),
            &format!(
                "{} {}: {action} {}{platforms}",
                image.name,
                short(&image.image_id),
                all_tags.join(", ")
            ),
        );
    }
    if publication.mode.publishes() {
        match &registry {
            Some(registry) => push_all(&publication, registry, &release, &mut images).await?,
            None => crate::archive::archive_all(&publication, &mut images).await?,
        }
    }
    let writes_manifest = publication.mode.writes_manifest();
    let path = publication.paths.release_json.clone();
    let manifest = release_manifest(publication, registry, images).await;
    if writes_manifest {
        write_json(&path, &manifest).await?;
        progress.done(
            &kind.to_string(),
            started,
            &format!("wrote {}", path.display()),
        );
        progress.step_summary(&manifest.step_summary());
    }
    Ok(manifest)
}

/// `sha256:0123456789abcdef...` → `sha256:0123456789ab`: an image id as the plan shows it.
fn short(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}", hex.get(..12).unwrap_or(hex))
}

/// The images to release with their repositories and rendered tags.
fn planned_images(
    publication: &Publication<'_>,
    release: &dockyard_config::Release,
    registry: Option<&str>,
) -> Vec<ReleasedImage> {
    let git_sha: String = publication.revision.chars().take(12).collect();
    let version = publication.preflight.version.as_str();
    let render = |templates: &[String]| -> Vec<String> {
        templates
            .iter()
            .map(|template| {
                dockyard_config::Release::render_tag(
                    template,
                    version,
                    &git_sha,
                    &publication.project,
                )
            })
            .collect()
    };
    publication
        .images
        .iter()
        .filter_map(|image| {
            let repository = match image.kind {
                ImageKind::App => release.app_repository.clone(),
                ImageKind::Nginx => release.nginx_repository.clone()?,
            };
            let repository = match registry {
                Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
                None => repository,
            };
            Some(ReleasedImage {
                name: image.kind,
                image_id: image.image_id.clone(),
                repository,
                tags: render(&release.tags),
                moving_tags: render(&release.moving_tags),
                digest: None,
                pushed: false,
                archive: None,
                sbom: image.sbom.clone().map(|file| ReleasedSbom {
                    file,
                    pushed: Pushed::default(),
                }),
                provenance: None,
                platforms: image
                    .platforms
                    .iter()
                    .map(|platform| ReleasedPlatform {
                        platform: platform.platform.clone(),
                        image_id: platform.image_id.clone(),
                        reference: None,
                        digest: None,
                        archive: None,
                    })
                    .collect(),
            })
        })
        .collect()
}

async fn push_all(
    publication: &Publication<'_>,
    registry: &str,
    release: &dockyard_config::Release,
    images: &mut [ReleasedImage],
) -> Result<(), ReleaseError> {
    let engine = publication.engine;
    let host = registry.split('/').next().unwrap_or(registry).to_owned();
    let (username_env, password_env) = (release.username_env.clone(), release.password_env.clone());
    // A credential helper is an external program: it runs off the async threads.
    let credentials = tokio::task::spawn_blocking(move || {
        crate::resolve_credentials(&host, &username_env, &password_env)
    })
    .await
    .map_err(|error| ReleaseError::Io {
        operation: "resolving registry credentials",
        path: PathBuf::from(registry),
        source: std::io::Error::other(error),
    })??;
    let retry = RetryPolicy {
        attempts: release.push_attempts.max(1),
        backoff: Duration::from_millis(release.push_backoff_ms),
    };
    // Read before anything is pushed: a missing or broken key stops the release with nothing in the registry.
    let signing_key = release
        .signing_key_env
        .as_deref()
        .map(SigningKey::from_env)
        .transpose()?;
    if let Some(key) = &signing_key {
        let public = publication
            .paths
            .release_json
            .with_file_name("provenance-signing.pub.pem");
        tokio::fs::write(&public, key.public_key_pem())
            .await
            .map_err(|source| ReleaseError::Io {
                operation: "writing",
                path: public.clone(),
                source,
            })?;
    }
    let pusher = Pusher {
        engine,
        progress: publication.progress,
        credentials: credentials.as_ref(),
        retry,
    };
    let host = registry.split('/').next().unwrap_or(registry);
    let index_client = images
        .iter()
        .any(|image| !image.platforms.is_empty())
        .then(|| RegistryClient::new(host, credentials.as_ref()));
    let mut indexes = Vec::with_capacity(images.len());
    // Immutable tags of every image first; moving tags only after all of them are pushed and verified.
    for image in images.iter_mut() {
        // Several platforms: each platform's image pushed first, then an index of them under every tag.
        let index = match &index_client {
            Some(client) if !image.platforms.is_empty() => Some(
                index::push_platforms(&pusher, &publication.platform_engines, client, image)
                    .await?,
            ),
            _ => None,
        };
        for tag in &image.tags {
            let reference = format!("{}:{tag}", image.repository);
            let digest = match (&index, &index_client) {
                (Some(index), Some(client)) => index.put(client, &pusher, &reference).await?,
                _ => {
                    engine.tag_image(&image.image_id, &reference).await?;
                    pusher.push_and_verify(&reference).await?
                }
            };
            if let Some(known) = image.digest.as_ref().filter(|known| **known != digest) {
                return Err(ReleaseError::PushFailed {
                    reference,
                    attempts: 1,
                    message: format!(
                        "the registry holds {digest}, but another tag of the same image holds {known}"
                    ),
                });
            }
            image.digest = Some(digest);
        }
        image.pushed = true;
        let Some(digest) = image.digest.clone() else {
            continue;
        };
        if let Some(sbom) = image.sbom.as_mut() {
            let bytes = read(&sbom.file.path).await?;
            sbom.pushed = push_attachment(
                publication,
                &pusher,
                &image.image_id,
                &image.repository,
                &digest,
                AttachmentKind::Sbom,
                bytes,
            )
            .await?;
        }
        let (path, bytes) =
            write_provenance(publication, image, &digest, signing_key.as_ref()).await?;
        let sha256 = dockyard_context::sha256_hex(&bytes);
        let kind = match signing_key {
            Some(_) => AttachmentKind::SignedProvenance,
            None => AttachmentKind::Provenance,
        };
        let pushed = push_attachment(
            publication,
            &pusher,
            &image.image_id,
            &image.repository,
            &digest,
            kind,
            bytes,
        )
        .await?;
        image.provenance = Some(ReleasedProvenance {
            path,
            sha256,
            signed_by: signing_key.as_ref().map(|key| key.id.clone()),
            pushed,
        });
        indexes.push(index);
    }
    for (image, index) in images.iter().zip(&indexes) {
        for tag in &image.moving_tags {
            let reference = format!("{}:{tag}", image.repository);
            let digest = match (index, &index_client) {
                (Some(index), Some(client)) => index.put(client, &pusher, &reference).await?,
                _ => {
                    engine.tag_image(&image.image_id, &reference).await?;
                    pusher.push_and_verify(&reference).await?
                }
            };
            publication
                .progress
                .detail(&format!("moved {reference} to {digest}"));
        }
    }
    Ok(())
}

/// Writes `value` as pretty JSON with a final newline to `path`; returns the bytes written.
async fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<Vec<u8>, ReleaseError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|error| ReleaseError::Io {
        operation: "serialising",
        path: path.to_owned(),
        source: std::io::Error::other(error),
    })?;
    bytes.push(b'\n');
    tokio::fs::write(path, &bytes)
        .await
        .map_err(|source| ReleaseError::Io {
            operation: "writing",
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

async fn read(path: &Path) -> Result<Vec<u8>, ReleaseError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| ReleaseError::Io {
            operation: "reading",
            path: path.to_owned(),
            source,
        })
}

/// Writes `target/dockyard/<image>-provenance.intoto.json` for the image pushed as `digest`, or with `signing_key`
/// its signed envelope `<image>-provenance.dsse.json`; returns its path and bytes.
async fn write_provenance(
    publication: &Publication<'_>,
    image: &ReleasedImage,
    digest: &str,
    signing_key: Option<&SigningKey>,
) -> Result<(PathBuf, Vec<u8>), ReleaseError> {
    let finished = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap_or(publication.created);
    let statement = crate::provenance::statement(
        image.name,
        &image.repository,
        digest,
        publication.preflight.version.as_str(),
        &publication.revision,
        &publication.context,
        &publication.bases,
        &publication.build,
        finished,
    );
    let kind = match signing_key {
        Some(_) => AttachmentKind::SignedProvenance,
        None => AttachmentKind::Provenance,
    };
    let path = publication.paths.release_json.with_file_name(format!(
        "{}-{}",
        image.name,
        kind.file_name()
    ));
    let bytes = match signing_key {
        Some(key) => {
            let payload = serde_json::to_vec(&statement).unwrap_or_default();
            write_json(&path, &key.envelope(&payload)).await?
        }
        None => write_json(&path, &statement).await?,
    };
    Ok((path, bytes))
}

/// Writes the image carrying `bytes` as `kind`'s file for the image pushed as `digest`, loads it, pushes it as
/// `REPOSITORY:sha256-<hex>.<kind>` and says where; the local tag is removed afterwards.
async fn push_attachment(
    publication: &Publication<'_>,
    pusher: &Pusher<'_>,
    image_id: &str,
    repository: &str,
    digest: &str,
    kind: AttachmentKind,
    bytes: Vec<u8>,
) -> Result<Pushed, ReleaseError> {
    let engine = publication.engine;
    let reference = format!("{repository}:{}", kind.tag(digest));
    let architecture = engine
        .image(image_id)
        .await?
        .map_or_else(|| "amd64".to_owned(), |info| info.architecture);
    let folder = publication.paths.release_json.with_file_name(format!(
        "{}-image-{}",
        kind.as_str(),
        digest.replace(':', "-")
    ));
    let (subject, tag, created, work) = (
        digest.to_owned(),
        reference.clone(),
        publication.created.to_string(),
        folder.clone(),
    );
    let archive = tokio::task::spawn_blocking(move || {
        crate::attachments::write_attachment_image(
            kind,
            bytes,
            &subject,
            &tag,
            &architecture,
            &created,
            &work,
        )
    })
    .await
    .map_err(|error| ReleaseError::Io {
        operation: "writing the attachment image in",
        path: folder.clone(),
        source: std::io::Error::other(error),
    })?;
    let loaded = match archive {
        Ok(archive) => engine
            .load_image_archive(&archive, &reference)
            .await
            .map_err(ReleaseError::from),
        Err(error) => Err(error),
    };
    let _ = tokio::fs::remove_dir_all(&folder).await;
    loaded?;
    let pushed = pusher.push_and_verify(&reference).await;
    let _ = engine.remove_image(&reference).await;
    let pushed = pushed?;
    publication.progress.detail(&format!(
        "pushed the {} as {reference} ({pushed})",
        kind.as_str()
    ));
    Ok(Pushed {
        reference: Some(reference),
        digest: Some(pushed),
    })
}

/// Pushes one reference at a time with retries, and reads its digest back.
pub(crate) struct Pusher<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) progress: &'a dyn Progress,
    credentials: Option<&'a RegistryCredentials>,
    pub(crate) retry: RetryPolicy,
}

impl<'a> Pusher<'a> {
    /// The same pusher speaking to `engine`: a platform's own.
    pub(crate) fn on(&self, engine: &'a Engine) -> Pusher<'a> {
        Pusher {
            engine,
            progress: self.progress,
            credentials: self.credentials,
            retry: self.retry,
        }
    }

    /// Pushes `reference`, retrying transient errors, and checks that the registry answers the pushed digest.
    pub(crate) async fn push_and_verify(&self, reference: &str) -> Result<String, ReleaseError> {
        let digest = self.push_with_retries(reference).await?;
        self.verify_digest(reference, &digest).await?;
        Ok(digest)
    }

    async fn push_with_retries(&self, reference: &str) -> Result<String, ReleaseError> {
        let retry = &self.retry;
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let progress = self.progress;
            let pushed = self
                .engine
                .push_image(reference, self.credentials, &mut |line| {
                    progress.output("push", line)
                })
                .await;
            let error = match pushed {
                Ok(digest) => {
                    progress.done(
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
                Err(error) => error,
            };
            let transient = matches!(error.push_failure_kind(), PushFailureKind::Transient);
            if !transient || attempt >= retry.attempts {
                let kind = if transient {
                    "still failing"
                } else {
                    "permanent error"
                };
                return Err(ReleaseError::PushFailed {
                    reference: reference.to_owned(),
                    attempts: attempt,
                    message: format!("{kind}: {error}"),
                });
            }
            let wait = retry.wait_after(attempt);
            progress.warning(&format!(
                "push of {reference} failed (transient, attempt {attempt} of {}): {error}; retrying in {} ms",
                retry.attempts,
                wait.as_millis()
            ));
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn verify_digest(&self, reference: &str, pushed: &str) -> Result<(), ReleaseError> {
        let read_back = self
            .engine
            .registry_digest(reference, self.credentials)
            .await?;
        if read_back.as_deref() != Some(pushed) {
            return Err(ReleaseError::PushFailed {
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
}

/// The versions of the tools behind a release: Dockyard, the engine, and the trivy the scan ran.
async fn tool_versions(engine: &Engine, trivy_version: Option<&str>) -> BTreeMap<String, String> {
    let mut tools = BTreeMap::from([("dockyard".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]);
    if let Ok(engine) = engine.version().await {
        tools.insert(
            "docker engine".to_owned(),
            format!("{} (API {})", engine.version, engine.api_version),
        );
    }
    if let Some(version) = trivy_version {
        tools.insert("trivy".to_owned(), version.to_owned());
    }
    tools
}

async fn release_manifest(
    publication: Publication<'_>,
    registry: Option<String>,
    images: Vec<ReleasedImage>,
) -> ReleaseManifest {
    let tools = tool_versions(publication.engine, publication.trivy_version.as_deref()).await;
    let scan = publication
        .scan
        .unwrap_or_else(|| ScanSummaryRecord::unscanned(images.iter().map(|image| image.name)));
    ReleaseManifest {
        schema_version: RELEASE_SCHEMA_VERSION,
        kind: publication.mode.kind(),
        project: publication.project,
        version: publication.preflight.version,
        git: GitState {
            revision: publication.revision,
            dirty: publication.preflight.dirty,
        },
        created: publication.created,
        registry,
        images,
        context: publication.context,
        bases: publication.bases,
        static_manifest_sha256: publication.static_manifest_sha256,
        scan,
        smoke: publication.smoke,
        tools,
    }
}
