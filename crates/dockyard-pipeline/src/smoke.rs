//! `smoke` and `run_command`: the adapter from a pipeline [`Session`] to `dockyard-smoke`, which owns the whole
//! smoke run (environment, readiness, checks, lifecycle, report). Everything the run creates carries the run
//! label; [`crate::run::with_cleanup`] removes it whatever happens.

use std::path::PathBuf;

pub use dockyard_smoke::{LoadOptions, SmokeOutcome};
use dockyard_smoke::{Progress, ReportPaths, RunContext, SmokeImage, SmokeInputs, StaticFiles};

use crate::plan::{STATIC_LABEL, STATIC_MANIFEST_LABEL, STATIC_URL};
use crate::run::{throwaway_secret, work_dir, Session};
use crate::state::ImageRecord;
use crate::{progress, PipelineError};

/// Runs the smoke tests of the built images and writes the reports. A failed check is not an `Err`:
/// the caller decides from `report.passed()`; `Err` means the run could not even start.
pub async fn smoke(
    session: &Session,
    notes: Vec<String>,
    load: Option<LoadOptions>,
) -> Result<SmokeOutcome, PipelineError> {
    let nginx_image = match &session.prepared.nginx {
        Some(prepared) => Some(image(session.state.nginx.as_ref().ok_or(
            PipelineError::MissingArtifact {
                what: "the nginx image (run `cargo xtask build`)",
                path: PathBuf::from(&prepared.tag),
            },
        )?)),
        None => None,
    };
    let inputs = SmokeInputs {
        run: run_context(session)?,
        nginx_image,
        static_files: StaticFiles {
            url: STATIC_URL,
            manifest_label: STATIC_MANIFEST_LABEL,
            tree_label: STATIC_LABEL,
        },
        reports: ReportPaths {
            json: session.prepared.paths.smoke_json.clone(),
            junit: session.prepared.paths.smoke_junit.clone(),
        },
        notes,
        load,
    };
    Ok(dockyard_smoke::smoke(inputs).await?)
}

/// How much longer a platform's containers may take under emulation than on this machine: qemu's user-mode
/// emulation runs Python several times slower.
pub const EMULATION_SLOWDOWN: u64 = 5;

/// The smoke run of another platform of `[platforms] targets`: the same checks against that platform's app and
/// nginx images, its reports beside this machine's. On the platform's own engine with its services' images for
/// that architecture; else on this machine's with its services, under emulation, the start-up and stop timeouts
/// multiplied by [`EMULATION_SLOWDOWN`]. A note in its report says which.
pub async fn smoke_platform(
    session: &Session,
    architecture: &str,
    mut notes: Vec<String>,
) -> Result<SmokeOutcome, PipelineError> {
    let record = session.state.platforms.get(architecture).ok_or_else(|| {
        PipelineError::Internal(format!(
            "the images of {architecture} were not made before its smoke run"
        ))
    })?;
    let mut config = session.prepared.config.clone();
    let own_engine = session.platform_engines.get(architecture);
    let mut service_images = session.service_images()?;
    match own_engine {
        Some(engine) => {
            notes.push(format!(
                "{} on its own engine {} ([platforms] engines), its services there",
                record.platform,
                engine.host()
            ));
            service_images = platform_service_images(session, architecture)?;
        }
        None => {
            config.smoke.startup_timeout_seconds *= EMULATION_SLOWDOWN;
            config.smoke.stop_timeout_seconds *= EMULATION_SLOWDOWN;
            notes.push(format!(
                "{} under emulation: start-up timeout {} s and stop timeout {} s ({EMULATION_SLOWDOWN}x this machine's)",
                record.platform, config.smoke.startup_timeout_seconds, config.smoke.stop_timeout_seconds
            ));
        }
    }
    let (json, junit) = session.prepared.paths.platform_smoke_reports(architecture);
    // Its own names (network, volume, containers) beside this machine's run, whose network is still there.
    let run_id = format!("{}-{architecture}", session.run_id);
    let inputs = SmokeInputs {
        run: RunContext {
            engine: session.engine_of(architecture),
            app_image: image(&record.production),
            service_images,
            config: &config,
            run_id: &run_id,
            ..run_context(session)?
        },
        nginx_image: match (&session.prepared.nginx, &record.nginx) {
            (Some(_), Some(nginx)) => Some(image(nginx)),
            _ => None,
        },
        static_files: StaticFiles {
            url: STATIC_URL,
            manifest_label: STATIC_MANIFEST_LABEL,
            tree_label: STATIC_LABEL,
        },
        reports: ReportPaths { json, junit },
        notes,
        load: None,
    };
    Ok(dockyard_smoke::smoke(inputs).await?)
}

/// The image of each service on `architecture`'s own engine, as the base step recorded its twin there.
fn platform_service_images(
    session: &Session,
    architecture: &str,
) -> Result<std::collections::BTreeMap<String, String>, PipelineError> {
    let config = &session.prepared.config;
    let platform = config
        .platforms
        .iter()
        .find(|platform| platform.architecture == architecture);
    platform
        .into_iter()
        .flat_map(|platform| &platform.service_bases)
        .map(|(service, base)| {
            let id = session
                .base_id(base)
                .ok_or_else(|| PipelineError::MissingArtifact {
                    what: "the service's image (run `cargo xtask base`)",
                    path: PathBuf::from(config.base(base).image.to_string()),
                })?;
            Ok((service.clone(), id))
        })
        .collect()
}

/// `cargo xtask run -- CMD...`: migrates, then runs `cmd` in a one-off container of the production image with the
/// smoke environment and network. Returns the command's exit code.
pub async fn run_command(
    session: &Session,
    cmd: Vec<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<i64, PipelineError> {
    Ok(dockyard_smoke::run_command(&run_context(session)?, cmd, on_line).await?)
}

fn run_context(session: &Session) -> Result<RunContext<'_>, PipelineError> {
    Ok(RunContext {
        engine: &session.engine,
        config: &session.prepared.config,
        app_image: image(&session.production_image()?),
        service_images: session.service_images()?,
        run_id: &session.run_id,
        labels: session.run_labels(),
        secret_key: throwaway_secret()?,
        work_dir: work_dir(session),
        progress: &PipelineProgress,
    })
}

fn image(record: &ImageRecord) -> SmokeImage {
    SmokeImage {
        id: record.id.clone(),
        reference: record.tag.clone(),
    }
}

/// The smoke run's lines go through [`crate::progress`], like every other step's.
struct PipelineProgress;

impl Progress for PipelineProgress {
    fn step(&self, name: &str, message: &str) {
        progress::step(name, message);
    }
    fn detail(&self, message: &str) {
        progress::detail(message);
    }
    fn output(&self, source: &str, line: &str) {
        progress::output(source, line);
    }
    fn step_summary(&self, markdown: &str) {
        progress::append_step_summary(markdown);
    }
}
