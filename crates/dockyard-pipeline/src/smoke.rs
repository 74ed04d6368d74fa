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
