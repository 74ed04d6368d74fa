//! The pipeline's side of `release` and `check`: fills a [`Publication`] from the session and the gates' outcomes
//! for `dockyard-release`, and prints its progress.

use dockyard_release::manifest::{BaseSummary, ContextSummary, ImageKind, SmokeSummaryRecord};
use dockyard_release::{ImageToRelease, Publication};
pub use dockyard_release::{Mode, Preflight, ReleaseError, ReleaseManifest, ReleaseOptions};

use crate::plan::Prepared;
use crate::run::Session;
use crate::scan::ScanOutcome;
use crate::smoke::SmokeOutcome;
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
    let mut images = vec![ImageToRelease {
        kind: ImageKind::App,
        image_id: session.production_image()?.id,
    }];
    images.extend(session.state.nginx.iter().map(|nginx| ImageToRelease {
        kind: ImageKind::Nginx,
        image_id: nginx.id.clone(),
    }));
    let (config, provenance) = (&session.prepared.config, &session.prepared.provenance);
    let bases = session.state.bases.iter().map(|(name, base)| {
        let (image, id, origin) = (base.image.clone(), base.id.clone(), base.origin.clone());
        (name.clone(), BaseSummary { image, id, origin })
    });
    let publication = Publication {
        engine: &session.engine,
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
        smoke: SmokeSummaryRecord {
            passed: smoke.report.passed(),
            checks: smoke.report.checks.len(),
            failed: smoke.report.n_failed(),
            start_to_healthy_ms: smoke.report.start_to_healthy_ms,
            report: smoke.json_path.clone(),
        },
        paths: session.prepared.paths.clone(),
    };
    Ok(dockyard_release::publish(publication).await?)
}
