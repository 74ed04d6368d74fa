//! `cargo xtask base`, `export` and `build`: the pipeline up to the step asked for, skipping unchanged work.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use dockyard_pipeline::release::{self, Mode, Preflight, ReleaseOptions};
use dockyard_pipeline::run::{self, Session};
use dockyard_pipeline::{
    exit_code, plan, progress, provenance, smoke, state, Engine, PipelineError,
};

use crate::flags;

/// How far a command goes.
#[derive(Clone)]
enum Until {
    Bases,
    Export,
    Production,
    /// The scan gate; `true` accepts a missing vulnerability database.
    Scan(bool),
    /// Smoke tests, with an optional bounded load through nginx after the checks.
    Smoke(Option<smoke::LoadOptions>),
    /// The pre-push check: build, scan (a missing database is a warning), smoke, release.json; no tags, no pushes.
    Check,
    /// The release; `true` accepts a missing vulnerability database.
    Release(ReleaseOptions, bool),
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

impl flags::Check {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        run_until(config_path, Until::Check, false)
    }
}

impl flags::Release {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let options = ReleaseOptions {
            version: self.version,
            allow_dirty: self.allow_dirty,
            dry_run: self.dry_run,
        };
        run_until(
            config_path,
            Until::Release(options, self.allow_missing_vulnerability_db),
            false,
        )
    }
}

impl flags::Smoke {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let load = (self.load_seconds > 0).then(|| smoke::LoadOptions {
            duration: std::time::Duration::from_secs(self.load_seconds),
            connections: self.load_connections as usize,
            request_timeout: std::time::Duration::from_secs(10),
        });
        run_until(config_path, Until::Smoke(load), false)
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
    // A release refuses a dirty tree or a bad version before the engine is involved.
    let release_preflight = match &until {
        Until::Release(options, _) => Some(release::preflight(&prepared, options)?),
        Until::Check => Some(release::preflight(&prepared, &ReleaseOptions::for_check())?),
        _ => None,
    };
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
            run_steps(session, &until, release_preflight).await
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
    release_preflight: Option<Preflight>,
) -> Result<(Vec<String>, i32), PipelineError> {
    run::ensure_bases(session).await?;
    if matches!(until, Until::Bases) {
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
    if matches!(until, Until::Export) {
        return Ok((summary, exit_code::OK));
    }
    let (production, nginx) = run::build_production_and_nginx(session).await?;
    summary.push(format!(
        "production image  {} {}",
        production.tag,
        plan::short(&production.id)
    ));
    if let Some(nginx) = nginx {
        summary.push(format!(
            "nginx image       {} {}",
            nginx.tag,
            plan::short(&nginx.id)
        ));
    }
    match until {
        Until::Scan(allow_missing_database) => {
            let Some(_) = strict_scan(session, &mut summary, *allow_missing_database).await? else {
                return Err(PipelineError::Scan(dockyard_scan::ScanError::TrivyMissing));
            };
        }
        Until::Smoke(load) => {
            let (_, notes) = local_scan(session, &mut summary).await?;
            smoke_gate(session, &mut summary, notes, *load).await?;
        }
        Until::Check => {
            let (scan, notes) = local_scan(session, &mut summary).await?;
            let smoke = smoke_gate(session, &mut summary, notes, None).await?;
            let Some(preflight) = release_preflight else {
                unreachable!("run_until runs the preflight of a check");
            };
            let manifest =
                release::publish(session, Mode::Check, preflight, scan.as_ref(), &smoke).await?;
            summary.push(format!(
                "check passed      {} {} (nothing tagged or pushed)",
                manifest.project, manifest.version
            ));
        }
        Until::Release(options, allow_missing_database) => {
            let Some(preflight) = release_preflight else {
                unreachable!("run_until runs the preflight of a release");
            };
            let Some(scan) = strict_scan(session, &mut summary, *allow_missing_database).await?
            else {
                return Err(release::ReleaseError::Unscanned.into());
            };
            let notes = scan
                .vulnerability_scan_not_run()
                .into_iter()
                .map(|(image, reason)| format!("vulnerability scan not run for {image}: {reason} (accepted with --allow-missing-vulnerability-db)"))
                .collect();
            let smoke = smoke_gate(session, &mut summary, notes, None).await?;
            let mode = Mode::Release(options.clone());
            let manifest = release::publish(session, mode, preflight, Some(&scan), &smoke).await?;
            for image in &manifest.images {
                let target = match (&image.digest, &image.archive) {
                    (Some(digest), _) => format!("{}@{digest}", image.repository),
                    (None, Some(archive)) => archive.path.display().to_string(),
                    (None, None) => format!("{} (dry run)", image.repository),
                };
                summary.push(format!("released {:<8} {target}", image.name));
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

/// The scan for `scan` and `release`: trivy must run; a missing vulnerability database fails unless accepted.
async fn strict_scan(
    session: &Session,
    summary: &mut Vec<String>,
    allow_missing_database: bool,
) -> Result<Option<dockyard_pipeline::scan::ScanOutcome>, PipelineError> {
    let Some(outcome) = scan_gate(session, summary).await? else {
        return Ok(None);
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
    Ok(Some(outcome))
}

/// The scan for local runs (`smoke`, `check`): a scan that cannot run is a loud warning recorded in the report;
/// findings over the policy still stop.
async fn local_scan(
    session: &Session,
    summary: &mut Vec<String>,
) -> Result<(Option<dockyard_pipeline::scan::ScanOutcome>, Vec<String>), PipelineError> {
    let (outcome, notes) = match scan_gate(session, summary).await {
        Ok(Some(outcome)) => {
            let notes = outcome
                .vulnerability_scan_not_run()
                .into_iter()
                .map(|(image, reason)| format!("vulnerability scan not run for {image}: {reason}"))
                .collect();
            (Some(outcome), notes)
        }
        Ok(None) => (
            None,
            vec!["scan not configured: no [scan] table in deploy.toml".to_owned()],
        ),
        Err(PipelineError::Scan(error)) => (None, vec![format!("scan not run: {error}")]),
        Err(error) => return Err(error),
    };
    for note in &notes {
        progress::warning(note);
    }
    Ok((outcome, notes))
}

/// Smoke-tests the images; fails with SMOKE_FAILED unless every check passed.
async fn smoke_gate(
    session: &mut Session,
    summary: &mut Vec<String>,
    notes: Vec<String>,
    load: Option<smoke::LoadOptions>,
) -> Result<smoke::SmokeOutcome, PipelineError> {
    let outcome = smoke::smoke(session, notes, load).await?;
    print!("{}", outcome.report.render_table());
    summary.push(format!(
        "smoke report      {} and {}",
        outcome.json_path.display(),
        outcome.junit_path.display()
    ));
    if !outcome.report.passed() {
        for line in summary.iter() {
            println!("{line}");
        }
        return Err(PipelineError::SmokeFailed {
            n_failed: outcome.report.n_failed(),
            report: outcome.json_path,
        });
    }
    Ok(outcome)
}
