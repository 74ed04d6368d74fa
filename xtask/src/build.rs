//! The commands that run pipeline steps (`base`, `export`, `build`, `scan`, `smoke`, `check`, `release`, `run`):
//! each maps its flags to a [`Goal`], and the report is rendered; the executor in `crates/` does the rest.

use std::path::Path;

use dockyard_pipeline::release::ReleaseOptions;
use dockyard_pipeline::{run_goal, Goal};

use crate::flags;

impl flags::Base {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        execute(config_path, Goal::Bases, false)
    }
}

impl flags::Export {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        execute(config_path, Goal::Export, self.force)
    }
}

impl flags::Build {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        execute(config_path, Goal::Images, self.force)
    }
}

impl flags::Scan {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let goal = Goal::Scan {
            allow_missing_database: self.allow_missing_vulnerability_db,
        };
        execute(config_path, goal, false)
    }
}

impl flags::Smoke {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let load = (self.load_seconds > 0).then(|| dockyard_pipeline::smoke::LoadOptions {
            duration: std::time::Duration::from_secs(self.load_seconds),
            connections: self.load_connections as usize,
            request_timeout: std::time::Duration::from_secs(10),
        });
        execute(config_path, Goal::Smoke { load }, false)
    }
}

impl flags::Check {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        execute(config_path, Goal::Check, false)
    }
}

impl flags::Release {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let goal = Goal::Release {
            options: ReleaseOptions {
                version: self.version,
                allow_dirty: self.allow_dirty,
                dry_run: self.dry_run,
            },
            allow_missing_database: self.allow_missing_vulnerability_db,
        };
        execute(config_path, goal, false)
    }
}

impl flags::Run {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        execute(config_path, Goal::Command(self.command), false)
    }
}

impl flags::Dev {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        execute(config_path, Goal::Dev(self.command), false)
    }
}

/// Runs `goal` and renders its report: the summary (on stderr when a command owns stdout), then the failure.
fn execute(config_path: &Path, goal: Goal, force: bool) -> anyhow::Result<i32> {
    let config = crate::load_config(config_path)?;
    let report = run_goal(config, goal, force)?;
    let summary = report.render_summary();
    if report.summary_to_stderr {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    Ok(report.outcome?)
}
