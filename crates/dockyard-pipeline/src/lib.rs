//! Plan, then run: base images, builder image, export, production image, with input digests and exit codes.
//!
//! Entry points: [`plan::prepare`] + [`plan::plan`] (pure, no engine), and the async steps in [`run`],
//! wrapped by [`run::with_cleanup`] so that nothing a run creates outlives it.
#![warn(missing_docs)]

pub mod digest;
pub mod doctor;
mod error;
pub mod exit_code;
pub mod plan;
pub mod progress;
pub mod provenance;
pub mod release;
pub mod run;
pub mod scan;
pub mod smoke;
pub mod state;
mod template;

pub use crate::error::PipelineError;
pub use dockyard_engine::{Engine, EngineError, Leftovers, PROJECT_LABEL, RUN_LABEL};

/// Removes every container, network and volume that a run of `project` left behind (a crashed or killed run),
/// and the run work folders under `target`. Returns what was removed.
pub async fn clean(
    engine: &Engine,
    project: &str,
    target: &std::path::Path,
) -> Result<Leftovers, PipelineError> {
    let project_label = format!("{PROJECT_LABEL}={project}");
    let leftovers = engine.find_labelled(&[RUN_LABEL, &project_label]).await?;
    if let Some(failure) = engine.remove_leftovers(&leftovers).await.into_iter().next() {
        return Err(failure.into());
    }
    for folder in run::work_dirs(target) {
        let _ = std::fs::remove_dir_all(folder);
    }
    Ok(leftovers)
}
