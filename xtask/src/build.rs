//! `cargo xtask base`, `export` and `build`: the pipeline up to the step asked for, skipping unchanged work.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use dockyard_pipeline::run::{self, Session};
use dockyard_pipeline::{
    exit_code, plan, progress, provenance, smoke, state, Engine, PipelineError,
};

use crate::flags;

/// How far a command goes.
#[derive(Clone, PartialEq, Eq)]
enum Until {
    Bases,
    Export,
    Production,
    /// The scan gate; `true` accepts a missing vulnerability database.
    Scan(bool),
    Smoke,
    /// A one-off command after the production image is built.
    Run(Vec<String>),
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

impl flags::Scan {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(
            config_path,
            Until::Scan(self.allow_missing_vulnerability_db),
            false,
        )
    }
}

impl flags::Smoke {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Smoke, false)
    }
}

impl flags::Run {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Run(self.command), false)
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
        let engine = Engine::connect().await.map_err(PipelineError::from)?;
        let mut session = Session {
            engine,
            prepared,
            state,
            run_id: run::new_run_id(),
            force,
        };
        let name = session.prepared.config.project.name.clone();
        progress::step(
            "run",
            &format!(
                "{name} (run {}, engine {})",
                session.run_id,
                session.engine.host()
            ),
        );
        let (summary, code) = run::with_cleanup(&mut session, async |session: &mut Session| {
            run_steps(session, &until).await
        })
        .await?;
        // A one-off command owns stdout; the summary goes to stderr there.
        let to_stderr = matches!(until, Until::Run(_));
        for line in summary
            .iter()
            .chain([&format!("done in {:.1}s", started.elapsed().as_secs_f64())])
        {
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        Ok(code)
    })
}

/// Runs the scan gate when deploy.toml has a [scan] table: prints the table, records the reports in the summary,
/// fails with SCAN_POLICY_VIOLATED when findings are over the policy or ignore entries expired.
async fn scan_gate(
    session: &Session,
    summary: &mut Vec<String>,
) -> Result<Option<dockyard_pipeline::scan::ScanOutcome>, PipelineError> {
    let Some(outcome) = dockyard_pipeline::scan::scan(session).await? else {
        return Ok(None);
    };
    print!("{}", dockyard_scan::render::render_table(&outcome.summary));
    summary.push(format!(
        "scan report       {} and {}",
        outcome.json_path.display(),
        outcome.sarif_path.display()
    ));
    let evaluation = &outcome.summary.evaluation;
    if !evaluation.passed() {
        for line in summary.iter() {
            println!("{line}");
        }
        return Err(PipelineError::ScanPolicyViolated {
            n_failing: evaluation.n_failing(),
            n_expired: evaluation.expired_entries.len(),
            report: outcome.json_path.clone(),
        });
    }
    Ok(Some(outcome))
}

/// The steps up to `until`; returns summary lines and the exit code.
async fn run_steps(
    session: &mut Session,
    until: &Until,
) -> Result<(Vec<String>, i32), PipelineError> {
    run::ensure_bases(session).await?;
    if *until == Until::Bases {
        return Ok((Vec::new(), exit_code::OK));
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
    if *until == Until::Export {
        return Ok((summary, exit_code::OK));
    }
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
    match until {
        Until::Scan(allow_missing_database) => {
            let Some(outcome) = scan_gate(session, &mut summary).await? else {
                return Err(PipelineError::Scan(dockyard_scan::ScanError::TrivyMissing));
            };
            let not_run = outcome.vulnerability_scan_not_run();
            if !not_run.is_empty() && !allow_missing_database {
                let images = not_run
                    .iter()
                    .map(|(image, _)| image.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(PipelineError::VulnerabilityScanNotRun { images });
            }
        }
        Until::Smoke => {
            // Local runs: a scan that cannot run is a loud warning recorded in the report; findings over the policy stop.
            let notes = match scan_gate(session, &mut summary).await {
                Ok(Some(outcome)) => outcome
                    .vulnerability_scan_not_run()
                    .into_iter()
                    .map(|(image, reason)| {
                        format!("vulnerability scan not run for {image}: {reason}")
                    })
                    .collect(),
                Ok(None) => vec!["scan not configured: no [scan] table in deploy.toml".to_owned()],
                Err(PipelineError::Scan(error)) => {
                    progress::warning(&format!("SCAN NOT RUN: {error}"));
                    vec![format!("scan not run: {error}")]
                }
                Err(error) => return Err(error),
            };
            for note in &notes {
                progress::warning(note);
            }
            let outcome = smoke::smoke(session, notes).await?;
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
                return Err(PipelineError::SmokeFailed {
                    n_failed: outcome.report.n_failed(),
                    report: outcome.json_path,
                });
            }
        }
        Until::Run(command) => {
            let code = smoke::run_command(session, command.clone(), &mut |line| println!("{line}"))
                .await?;
            summary.push(format!("command exited with code {code}"));
            return Ok((summary, code.clamp(0, 255) as i32));
        }
        Until::Bases | Until::Export | Until::Production => {}
    }
    Ok((summary, exit_code::OK))
}
