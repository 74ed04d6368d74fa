//! Plan, then execute exactly that plan: steps, their inputs and the cache decision, the executor, state and exit codes.
//!
//! Entry points: [`plan::prepare`] + [`plan::plan`] (pure, no engine), and [`execute::run_goal`] /
//! [`execute::execute`], which walk a [`Goal`]'s stages with the gates applied, inside [`run::with_cleanup`] so
//! that nothing a run creates outlives it.
#![warn(missing_docs)]

pub mod assembly;
pub mod assets;
pub mod builder_protocol;
pub mod clean;
pub mod decide;
pub mod dev;
pub mod digest;
pub mod doctor;
mod error;
pub mod execute;
pub mod exit_code;
pub mod locked;
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

pub use crate::clean::{clean, CleanReport};
pub use crate::error::PipelineError;
pub use crate::execute::{execute, run_goal, Goal, Report};
pub use crate::step::Step;
pub use dockyard_engine::{Engine, EngineError, Leftovers, PROJECT_LABEL, RUN_LABEL};
