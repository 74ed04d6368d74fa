//! The pipeline's side of `release` and `check`: fills a [`Publication`] from the session and the gates' outcomes
//! for `dockyard-release`, and prints its progress.

use dockyard_release::manifest::{BaseSummary, ContextSummary, ImageKind, SmokeSummaryRecord};
use dockyard_release::provenance::{BuildFacts, LockedPackage, Material};
use dockyard_release::{ImageToRelease, PlatformImage, Publication};
pub use dockyard_release::{Mode, Preflight, ReleaseError, ReleaseManifest, ReleaseOptions};

use crate::plan::Prepared;
use crate::run::Session;
use crate::scan::ScanOutcome;
use crate::smoke::SmokeOutcome;
use crate::state::{ImageRecord, PlatformRecord};
use crate::{progress, PipelineError};

/// Refuses a dirty tree unless allowed, and works out the version. Runs git: call it before the engine is involved.
pub fn preflight(
    prepared: &Prepared,
    options: &ReleaseOptions,
) -> Result<Preflight, PipelineError> {
    let config = &prepared.config;
    Ok(dockyard_release::preflight(
        &config.root,
        &config.project.version,
        options,
    )?)
}

/// Refuses a release whose `[release] signing_key_env` holds no usable key (the variable is named, its value never
/// shown), before anything is built.
pub fn check_signing_key(prepared: &Prepared) -> Result<(), PipelineError> {
    let variable = prepared
        .config
        .release
        .as_ref()
        .and_then(|release| release.signing_key_env.as_deref());
    if let Some(variable) = variable {
        dockyard_release::signing::SigningKey::from_env(variable)?;
    }
    Ok(())
}

/// Tags and pushes (or archives) the images after every gate passed, and writes release.json; `Mode::Check`
/// writes release.json and stops before tagging.
pub async fn publish(
    session: &Session,
    mode: Mode,
    preflight: Preflight,
    scan: Option<&ScanOutcome>,
    smoke: &SmokeOutcome,
) -> Result<ReleaseManifest, PipelineError> {
    let export = session.exported_context()?;
    let sbom = |kind: ImageKind| scan.and_then(|scan| scan.sbom(&kind.to_string()));
    let production_id = session.production_image()?.id;
    let mut images = vec![ImageToRelease {
        kind: ImageKind::App,
        platforms: platform_images(session, &production_id, |record| Some(&record.production))?,
        image_id: production_id,
        sbom: sbom(ImageKind::App),
    }];
    if let Some(nginx) = &session.state.nginx {
        images.push(ImageToRelease {
            kind: ImageKind::Nginx,
            image_id: nginx.id.clone(),
            sbom: sbom(ImageKind::Nginx),
            platforms: platform_images(session, &nginx.id, |record| record.nginx.as_ref())?,
        });
    }
    let (config, provenance) = (&session.prepared.config, &session.prepared.provenance);
    let bases = session.state.bases.iter().map(|(name, base)| {
        let (image, id, origin) = (base.image.clone(), base.id.clone(), base.origin.clone());
        (name.clone(), BaseSummary { image, id, origin })
    });
    let platform_engines = config
        .platforms
        .iter()
        .filter_map(|platform| {
            let engine = session.platform_engines.get(&platform.architecture)?;
            Some((platform.platform.clone(), engine.clone()))
        })
        .collect();
    let publication = Publication {
        engine: &session.engine,
        platform_engines,
        progress: &progress::Printer,
        mode,
        preflight,
        project: config.project.name.clone(),
        release: config.release.clone(),
        revision: provenance.revision.clone(),
        created: crate::provenance::timestamp(provenance.created_epoch),
        images,
        context: ContextSummary {
            path: export.path,
            sha256: export.sha256,
        },
        bases: bases.collect(),
        static_manifest_sha256: export.static_manifest_sha256,
        scan: scan.map(ScanOutcome::release_record),
        trivy_version: scan.map(|scan| scan.trivy_version.clone()),
        smoke: SmokeSummaryRecord {
            passed: smoke.report.passed(),
            checks: smoke.report.checks.len(),
            failed: smoke.report.n_failed(),
            start_to_healthy_ms: smoke.report.start_to_healthy_ms,
            report: smoke.json_path.clone(),
        },
        paths: session.prepared.paths.clone(),
        build: build_facts(session)?,
    };
    Ok(dockyard_release::publish(publication).await?)
}

/// With `[platforms] targets`: the image of each platform, this machine's (`native_id`) first, as `image_of` picks
/// it from the platform's record; empty without. A platform whose image is missing is a bug of the plan.
fn platform_images(
    session: &Session,
    native_id: &str,
    image_of: impl Fn(&PlatformRecord) -> Option<&ImageRecord>,
) -> Result<Vec<PlatformImage>, PipelineError> {
    let platforms = &session.prepared.config.platforms;
    if platforms.is_empty() {
        return Ok(Vec::new());
    }
    let mut images = vec![PlatformImage {
        platform: dockyard_config::native_platform(),
        image_id: native_id.to_owned(),
    }];
    for platform in platforms {
        let image = session
            .state
            .platforms
            .get(&platform.architecture)
            .and_then(&image_of)
            .ok_or_else(|| {
                PipelineError::Internal(format!(
                    "the images of {} were not made before the release",
                    platform.platform
                ))
            })?;
        images.push(PlatformImage {
            platform: platform.platform.clone(),
            image_id: image.id.clone(),
        });
    }
    Ok(images)
}

/// What the provenance says the images were built from and by: deploy.toml and the dependency files the builder
/// installed from (paths relative to deploy.toml's folder), Dockyard's version and the run.
fn build_facts(session: &Session) -> Result<BuildFacts, PipelineError> {
    let config = &session.prepared.config;
    let deploy_file = Material {
        path: config
            .file
            .strip_prefix(&config.root)
            .unwrap_or(&config.file)
            .display()
            .to_string(),
        sha256: dockyard_context::sha256_file(&config.file)?,
    };
    let dependency_files = session
        .prepared
        .locked
        .files
        .iter()
        .map(|file| Material {
            path: file.path.clone(),
            sha256: dockyard_context::sha256_hex(&file.bytes),
        })
        .collect();
    let locked_packages = session
        .prepared
        .locked
        .pins
        .iter()
        .flat_map(|pins| {
            pins.packages.iter().map(|package| LockedPackage {
                lock_file: pins.file.clone(),
                name: package.name.clone(),
                version: package.version.clone(),
                sha256: package.sha256.clone(),
            })
        })
        .collect();
    Ok(BuildFacts {
        deploy_file: Some(deploy_file),
        dependency_files,
        locked_packages,
        dockyard_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id: session.run_id.clone(),
    })
}
