//! Plan, then execute exactly that plan: steps, their inputs and the cache decision, the executor, state and exit codes.
//!
//! Entry points: [`plan::prepare`] + [`plan::plan`] (pure, no engine), and [`execute::run_goal`] /
//! [`execute::execute`], which walk a [`Goal`]'s stages with the gates applied, inside [`run::with_cleanup`] so
//! that nothing a run creates outlives it.
#![warn(missing_docs)]

pub mod builder_protocol;
pub mod credentials;
pub mod decide;
pub mod digest;
pub mod doctor;
mod error;
pub mod execute;
pub mod exit_code;
pub mod plan;
pub mod progress;
pub mod provenance;
pub mod release;
pub mod run;
pub mod scan;
pub mod smoke;
pub mod state;
pub mod step;
mod template;

pub use crate::error::PipelineError;
pub use crate::execute::{execute, run_goal, Goal, Report};
pub use crate::step::Step;
pub use dockyard_engine::{Engine, EngineError, Leftovers, PROJECT_LABEL, RUN_LABEL};

/// Removes every container, network and volume that a run of `project` left behind (a crashed or killed run),
/// and the run work folders among `paths`. Returns what was removed.
pub async fn clean(
    engine: &Engine,
    project: &str,
    paths: &dockyard_config::Paths,
) -> Result<Leftovers, PipelineError> {
    let project_label = format!("{PROJECT_LABEL}={project}");
    let leftovers = engine.find_labelled(&[RUN_LABEL, &project_label]).await?;
    if let Some(failure) = engine.remove_leftovers(&leftovers).await.into_iter().next() {
        return Err(failure.into());
    }
    for folder in paths.work_dirs() {
        let _ = std::fs::remove_dir_all(folder);
    }
    Ok(leftovers)
}
