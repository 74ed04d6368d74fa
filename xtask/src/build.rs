//! `cargo xtask base`, `export` and `build`: the pipeline up to the step asked for, skipping unchanged work.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use dockyard_pipeline::run::{self, Session};
use dockyard_pipeline::{exit_code, plan, progress, provenance, state, Engine};

use crate::flags;

/// How far a command goes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Until {
    Bases,
    Export,
    Production,
    Smoke,
}

impl flags::Base {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Bases, false)
    }
}

impl flags::Export {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Export, self.force)
    }
}

impl flags::Smoke {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Smoke, false)
    }
}

impl flags::Build {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Production, self.force)
    }
}

fn run_until(config_path: &Path, until: Until, force: bool) -> anyhow::Result<i32> {
    let started = Instant::now();
    let config = crate::load_config(config_path)?;
    let provenance = provenance::detect(&config.root);
    let prepared = plan::prepare(config, provenance).context("planning")?;
    let state = state::load(&prepared.paths.state);
    crate::runtime()?.block_on(async move {
        let engine = Engine::connect()
            .await
            .map_err(dockyard_pipeline::PipelineError::from)?;
        let mut session = Session {
            engine,
            prepared,
            state,
            run_id: run::new_run_id(),
            force,
        };
        progress::step(
            "run",
            &format!(
                "{} (run {}, engine {})",
                session.prepared.config.project.name,
                session.run_id,
                session.engine.host()
            ),
        );
        let summary = run::with_cleanup(&mut session, async |session: &mut Session| {
            run::ensure_bases(session).await?;
            if until == Until::Bases {
                return Ok(Vec::new());
            }
            let builder = run::ensure_builder_image(session).await?;
            let export = run::export(session).await?;
            let mut summary = vec![
                format!(
                    "builder image     {} {}",
                    builder.tag,
                    plan::short(&builder.id)
                ),
                format!(
                    "context           {} sha256 {}",
                    export.path.display(),
                    export.sha256
                ),
            ];
            if until >= Until::Production {
                let production = run::build_production(session).await?;
                summary.push(format!(
                    "production image  {} {}",
                    production.tag,
                    plan::short(&production.id)
                ));
                if let Some(nginx) = run::build_nginx(session).await? {
                    summary.push(format!(
                        "nginx image       {} {}",
                        nginx.tag,
                        plan::short(&nginx.id)
                    ));
                }
            }
            if until == Until::Smoke {
                let outcome = dockyard_pipeline::smoke::smoke(session).await?;
                print!("{}", outcome.report.render_table());
                summary.push(format!(
                    "smoke report      {} and {}",
                    outcome.json_path.display(),
                    outcome.junit_path.display()
                ));
                if !outcome.report.passed() {
                    for line in &summary {
                        println!("{line}");
                    }
                    return Err(dockyard_pipeline::PipelineError::SmokeFailed {
                        n_failed: outcome.report.n_failed(),
                        report: outcome.json_path,
                    });
                }
            }
            Ok(summary)
        })
        .await?;
        for line in summary {
            println!("{line}");
        }
        println!("done in {:.1}s", started.elapsed().as_secs_f64());
        Ok(exit_code::OK)
    })
}
