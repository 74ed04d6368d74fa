//! The executor: a [`Goal`] becomes the stages of steps the plan lists, run in order with the gates applied.
//!
//! This is the only place that knows the order of steps and the rules of the gates (which scan failures stop a
//! run, what a release needs). xtask maps flags to a `Goal` and renders the [`Report`]; nothing else.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dockyard_config::DeployConfig;

use crate::plan::{self, short, Prepared};
use crate::release::{self, Mode, ReleaseOptions};
use crate::run::{self, Session};
use crate::scan::ScanOutcome;
use crate::smoke::{self, LoadOptions, SmokeOutcome};
use crate::step::{Stage, Step};
use crate::{exit_code, progress, provenance, state, Engine, PipelineError};

/// What a command asks for.
#[derive(Debug, Clone)]
pub enum Goal {
    /// Every base image present.
    Bases,
    /// Up to the exported context.
    Export,
    /// Up to the production and nginx images.
    Images,
    /// The images, then the strict scan gate: trivy must run; a missing vulnerability database fails unless
    /// accepted.
    Scan {
        /// Accept a missing vulnerability database (recorded in the reports).
        allow_missing_database: bool,
    },
    /// The images, the local scan gate (a scan that cannot run is a loud warning), then smoke.
    Smoke {
        /// A bounded load through nginx after the checks.
        load: Option<LoadOptions>,
    },
    /// The pre-push check: images, local scan gate, smoke, release.json; nothing tagged or pushed.
    Check,
    /// The release: images, strict scan gate, smoke, then tags and pushes (or archives) and release.json.
    Release {
        /// Version, dirty tree and dry run.
        options: ReleaseOptions,
        /// Accept a missing vulnerability database (recorded in release.json).
        allow_missing_database: bool,
    },
    /// The images, then a one-off command in a container of the production image.
    Command(Vec<String>),
    /// The builder image, then `cargo xtask dev`: the development session (no command), or a one-off command
    /// beside it.
    Dev(Vec<String>),
}

/// How the scan step treats a scan that could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanPolicy {
    /// `scan` and `release`: trivy must run; a missing vulnerability database fails unless accepted.
    Strict { allow_missing_database: bool },
    /// `smoke` and `check`: a scan that cannot run is a loud warning recorded in the reports.
    Local,
}

impl Goal {
    /// The stages of steps this goal runs, in order; the steps of one stage run at the same time.
    pub fn stages(&self, prepared: &Prepared) -> Vec<Stage> {
        let config = &prepared.config;
        // `dev`, `export` and `run` make no other platform's images, so they need none of its bases.
        let other_platforms = !matches!(self, Goal::Dev(_) | Goal::Export | Goal::Command(_));
        let mut stages: Vec<Stage> = config
            .bases
            .keys()
            .filter(|name| !config.is_made_on_demand(name))
            .filter(|name| other_platforms || !config.is_platform_base(name))
            .map(|name| vec![Step::Base(name.clone())])
            .collect();
        if matches!(self, Goal::Bases) {
            return stages;
        }
        stages.push(vec![Step::BuilderImage]);
        let node_assets = prepared
            .config
            .assets
            .as_ref()
            .is_some_and(|assets| assets.runs_in == dockyard_config::AssetsRunsIn::Node);
        if node_assets {
            stages.push(vec![Step::Assets]);
        }
        if matches!(self, Goal::Dev(_)) {
            stages.push(vec![Step::Dev]);
            return stages;
        }
        stages.push(vec![Step::Export]);
        // The tests on the other Pythons of [matrix], once they passed on the shipped one.
        stages.extend(
            prepared
                .config
                .matrix
                .iter()
                .map(|entry| vec![Step::MatrixTests(entry.python)]),
        );
        if matches!(self, Goal::Export) {
            return stages;
        }
        let mut images = vec![Step::ProductionImage];
        if prepared.nginx.is_some() {
            images.push(Step::NginxImage);
        }
        stages.push(images);
        if !matches!(self, Goal::Command(_)) {
            stages.extend(
                prepared
                    .config
                    .platforms
                    .iter()
                    .map(|platform| vec![Step::PlatformImages(platform.architecture.clone())]),
            );
        }
        let after_images: &[Step] = match self {
            Goal::Bases | Goal::Export | Goal::Images | Goal::Dev(_) => &[],
            Goal::Scan { .. } => &[Step::Scan],
            Goal::Smoke { .. } => &[Step::Scan, Step::Smoke],
            Goal::Check | Goal::Release { .. } => &[Step::Scan, Step::Smoke, Step::Release],
            Goal::Command(_) => &[Step::Command],
        };
        stages.extend(after_images.iter().map(|step| vec![step.clone()]));
        stages
    }

    fn scan_policy(&self) -> ScanPolicy {
        match self {
            Goal::Scan {
                allow_missing_database,
            }
            | Goal::Release {
                allow_missing_database,
                ..
            } => ScanPolicy::Strict {
                allow_missing_database: *allow_missing_database,
            },
            _ => ScanPolicy::Local,
        }
    }

    /// The release options: the user's for a release; for `check`, a release that tags and pushes nothing
    /// and accepts a dirty tree (recorded in release.json).
    fn release_options(&self) -> Option<ReleaseOptions> {
        match self {
            Goal::Release { options, .. } => Some(options.clone()),
            Goal::Check => Some(ReleaseOptions::for_check()),
            _ => None,
        }
    }
}

/// What a run did: the summary lines and how it ended.
#[derive(Debug)]
pub struct Report {
    /// One line per result worth keeping (images, reports, released digests), in order.
    pub summary: Vec<String>,
    /// The exit code on success (a one-off command's own code), or the failure.
    pub outcome: Result<i32, PipelineError>,
    /// How long the run took.
    pub elapsed: Duration,
    /// A one-off command owns stdout: the summary goes to stderr.
    pub summary_to_stderr: bool,
}

impl Report {
    /// The summary as text, one line each, ending with the duration.
    pub fn render_summary(&self) -> String {
        let mut text = String::new();
        for line in &self.summary {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!("done in {:.1}s\n", self.elapsed.as_secs_f64()));
        text
    }
}

/// Loads nothing: plans `config`, refuses early what can be refused without an engine (a release from a dirty
/// tree), connects to the engine, and executes `goal` with cleanup on success, failure and Ctrl-C.
/// `Err` only when the run could not start; failures of steps are in the [`Report`].
pub fn run_goal(config: DeployConfig, goal: Goal, force: bool) -> Result<Report, PipelineError> {
    let started = Instant::now();
    let provenance = provenance::detect(&config.root);
    let prepared = plan::prepare(config, provenance)?;
    let state = state::load(&prepared.paths.state);
    let preflight = match goal.release_options() {
        Some(options) => Some(release::preflight(&prepared, &options)?),
        None => None,
    };
    if let Goal::Release { options, .. } = &goal {
        // A release that would push reads its provenance signing key before anything is built.
        if !options.dry_run {
            release::check_signing_key(&prepared)?;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| PipelineError::Io {
            operation: "starting the async runtime",
            path: prepared.paths.target.clone(),
            source,
        })?;
    runtime.block_on(async move {
        let engine = Engine::connect().await?;
        let platform_engines = connect_platform_engines(&prepared, &goal).await?;
        let mut session = Session {
            engine,
            platform_engines,
            prepared,
            state,
            run_id: run::new_run_id(),
            force,
            preflight,
        };
        progress::start_run(&session.prepared.paths.log_dir(&session.run_id));
        progress::step(
            "run",
            &format!(
                "{} (run {}, engine {})",
                session.prepared.config.project.name,
                session.run_id,
                session.engine.host()
            ),
        );
        let mut report = execute(&mut session, goal).await;
        report.elapsed = started.elapsed();
        Ok(report)
    })
}

/// The engine of each platform with its own (`[platforms] engines`), connected when `goal` has a step that speaks
/// to it (its bases, its images, the gates and the release); one that does not answer fails the run naming the
/// platform.
async fn connect_platform_engines(
    prepared: &Prepared,
    goal: &Goal,
) -> Result<BTreeMap<String, Engine>, PipelineError> {
    let config = &prepared.config;
    let needed = goal
        .stages(prepared)
        .iter()
        .flatten()
        .any(|step| match step {
            Step::PlatformImages(_) | Step::Smoke | Step::Scan | Step::Release => true,
            Step::Base(name) => config.platform_with_engine_of_base(name).is_some(),
            _ => false,
        });
    let mut engines = BTreeMap::new();
    for platform in config.platforms.iter().filter(|_| needed) {
        let Some(host) = &platform.engine else {
            continue;
        };
        let unreachable =
            |error| PipelineError::platform_engine_unreachable(&platform.platform, host, error);
        let engine = Engine::connect_to(host).await.map_err(unreachable)?;
        let version = engine.version().await.map_err(unreachable)?;
        let runs = if platform.platform.starts_with(&version.platform) {
            "natively"
        } else {
            "under its own emulation"
        };
        progress::detail(&format!(
            "{}: its own engine {} ([platforms] engines), which runs it {runs}",
            platform.platform,
            engine.host()
        ));
        engines.insert(platform.architecture.clone(), engine);
    }
    Ok(engines)
}

/// Executes `goal` on `session`: every stage of [`Goal::stages`] in order, then removes everything the run
/// created (also on failure and Ctrl-C).
pub async fn execute(session: &mut Session, goal: Goal) -> Report {
    let started = Instant::now();
    let summary_to_stderr = matches!(goal, Goal::Command(_) | Goal::Dev(_));
    let mut walk = Walk {
        goal,
        summary: Vec::new(),
        scan: None,
        scan_notes: Vec::new(),
        smoke: None,
        code: exit_code::OK,
    };
    let outcome = run::with_cleanup(session, async |session: &mut Session| {
        for stage in walk.goal.stages(&session.prepared) {
            walk.run_stage(session, &stage).await?;
        }
        Ok(walk.code)
    })
    .await;
    progress::finish_run(outcome.is_ok());
    Report {
        summary: walk.summary,
        outcome,
        elapsed: started.elapsed(),
        summary_to_stderr,
    }
}

/// The executor's state while it walks the stages: what earlier steps produced for later ones.
struct Walk {
    goal: Goal,
    summary: Vec<String>,
    scan: Option<ScanOutcome>,
    scan_notes: Vec<String>,
    smoke: Option<SmokeOutcome>,
    code: i32,
}

impl Walk {
    async fn run_stage(
        &mut self,
        session: &mut Session,
        stage: &[Step],
    ) -> Result<(), PipelineError> {
        match stage {
            [Step::ProductionImage, Step::NginxImage] => {
                let (production, nginx) = run::build_production_and_nginx(session).await?;
                self.image_line("production image", &production.tag, &production.id);
                if let Some(nginx) = nginx {
                    self.image_line("nginx image", &nginx.tag, &nginx.id);
                }
                Ok(())
            }
            [step] => self.run_step(session, step).await,
            steps => Err(PipelineError::Internal(format!(
                "the executor cannot run {} at the same time",
                steps
                    .iter()
                    .map(Step::name)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ))),
        }
    }

    async fn run_step(&mut self, session: &mut Session, step: &Step) -> Result<(), PipelineError> {
        match step {
            Step::Base(name) => run::ensure_base(session, name).await,
            Step::BuilderImage => {
                let builder = run::ensure_builder_image(session).await?;
                self.image_line("builder image", &builder.tag, &builder.id);
                Ok(())
            }
            Step::Assets => {
                let assets = run::build_assets(session).await?;
                self.summary.push(format!(
                    "assets            {} sha256 {}",
                    assets.path.display(),
                    assets.sha256
                ));
                Ok(())
            }
            Step::Export => {
                let export = run::export(session).await?;
                self.summary.push(format!(
                    "context           {} sha256 {}",
                    export.path.display(),
                    export.sha256
                ));
                Ok(())
            }
            Step::MatrixTests(python) => run::matrix_tests(session, *python).await,
            Step::PlatformImages(architecture) => {
                let record = run::platform_images(session, architecture).await?;
                self.image_line(
                    &format!("production {architecture}"),
                    &record.production.tag,
                    &record.production.id,
                );
                if let Some(nginx) = &record.nginx {
                    self.image_line(&format!("nginx {architecture}"), &nginx.tag, &nginx.id);
                }
                Ok(())
            }
            Step::ProductionImage => {
                let (production, _) = run::build_production_and_nginx(session).await?;
                self.image_line("production image", &production.tag, &production.id);
                Ok(())
            }
            Step::NginxImage => Err(PipelineError::Internal(
                "the nginx image is built beside the production image".to_owned(),
            )),
            Step::Scan => self.scan(session).await,
            Step::Smoke => self.smoke(session).await,
            Step::Release => self.release(session).await,
            Step::Command => {
                let Goal::Command(command) = &self.goal else {
                    return Err(PipelineError::Internal(
                        "a command step outside `run`".to_owned(),
                    ));
                };
                let code =
                    smoke::run_command(session, command.clone(), &mut progress::command_output)
                        .await?;
                self.summary
                    .push(format!("command exited with code {code}"));
                self.code = code.clamp(0, 255) as i32;
                Ok(())
            }
            Step::Dev => {
                let Goal::Dev(command) = &self.goal else {
                    return Err(PipelineError::Internal(
                        "a dev step outside `dev`".to_owned(),
                    ));
                };
                let command = command.clone();
                let code = crate::dev::run(session, &command).await?;
                if !command.is_empty() {
                    self.summary
                        .push(format!("command exited with code {code}"));
                }
                self.code = code.clamp(0, 255) as i32;
                Ok(())
            }
        }
    }

    fn image_line(&mut self, what: &str, tag: &str, id: &str) {
        self.summary.push(format!("{what:<17} {tag} {}", short(id)));
    }

    /// The scan gate. Findings over the policy always stop; a scan that cannot run stops under the strict
    /// policy and is a recorded warning under the local one.
    async fn scan(&mut self, session: &Session) -> Result<(), PipelineError> {
        let policy = self.goal.scan_policy();
        let outcome = match crate::scan::scan(session).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => match policy {
                ScanPolicy::Strict { .. } if matches!(self.goal, Goal::Release { .. }) => {
                    return Err(release::ReleaseError::Unscanned.into());
                }
                ScanPolicy::Strict { .. } => return Err(PipelineError::ScanNotConfigured),
                ScanPolicy::Local => {
                    self.warn("scan not configured: no [scan] table in deploy.toml");
                    return Ok(());
                }
            },
            Err(PipelineError::Scan(error)) if policy == ScanPolicy::Local => {
                self.warn(&format!("scan not run: {error}"));
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        progress::table(&dockyard_scan::render::render_table(&outcome.summary));
        self.summary.push(format!(
            "scan report       {} and {}",
            outcome.json_path.display(),
            outcome.sarif_path.display()
        ));
        let evaluation = &outcome.summary.evaluation;
        if !evaluation.passed() {
            return Err(PipelineError::ScanPolicyViolated {
                n_failing: evaluation.n_failing(),
                n_expired: evaluation.expired_entries.len(),
                report: outcome.json_path.clone(),
            });
        }
        let not_run = outcome.vulnerability_scan_not_run();
        match policy {
            ScanPolicy::Strict {
                allow_missing_database: false,
            } if !not_run.is_empty() => {
                let images = not_run
                    .iter()
                    .map(|(image, _)| image.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(PipelineError::VulnerabilityScanNotRun { images });
            }
            ScanPolicy::Strict { .. } => {
                self.scan_notes.extend(not_run.into_iter().map(|(image, reason)| {
                    format!("vulnerability scan not run for {image}: {reason} (accepted with --allow-missing-vulnerability-db)")
                }));
            }
            ScanPolicy::Local => {
                for (image, reason) in not_run {
                    self.warn(&format!("vulnerability scan not run for {image}: {reason}"));
                }
            }
        }
        self.scan = Some(outcome);
        Ok(())
    }

    fn warn(&mut self, note: &str) {
        progress::warning(note);
        self.scan_notes.push(note.to_owned());
    }

    /// Smoke-tests the images; fails with SMOKE_FAILED unless every check passed.
    async fn smoke(&mut self, session: &mut Session) -> Result<(), PipelineError> {
        let load = match &self.goal {
            Goal::Smoke { load } => *load,
            _ => None,
        };
        let outcome = smoke::smoke(session, self.scan_notes.clone(), load).await?;
        progress::table(&outcome.report.render_table());
        self.summary.push(format!(
            "smoke report      {} and {}",
            outcome.json_path.display(),
            outcome.junit_path.display()
        ));
        if !outcome.report.passed() {
            return Err(PipelineError::SmokeFailed {
                n_failed: outcome.report.n_failed(),
                report: outcome.json_path,
            });
        }
        self.smoke = Some(outcome);
        // Each other platform's images: the same checks, under emulation.
        let architectures: Vec<String> = session
            .prepared
            .config
            .platforms
            .iter()
            .map(|platform| platform.architecture.clone())
            .collect();
        for architecture in architectures {
            let outcome =
                smoke::smoke_platform(session, &architecture, self.scan_notes.clone()).await?;
            progress::table(&outcome.report.render_table());
            self.summary.push(format!(
                "smoke {architecture:<11} {} and {}",
                outcome.json_path.display(),
                outcome.junit_path.display()
            ));
            if !outcome.report.passed() {
                return Err(PipelineError::OnPlatform {
                    architecture,
                    error: Box::new(PipelineError::SmokeFailed {
                        n_failed: outcome.report.n_failed(),
                        report: outcome.json_path,
                    }),
                });
            }
        }
        Ok(())
    }

    /// release.json, and for a release the tags and pushes; only after every gate passed.
    async fn release(&mut self, session: &mut Session) -> Result<(), PipelineError> {
        let (Some(options), Some(smoke)) = (self.goal.release_options(), self.smoke.as_ref())
        else {
            return Err(PipelineError::Internal(
                "the release step runs only after smoke passed".to_owned(),
            ));
        };
        let Some(preflight) = session.preflight.clone() else {
            return Err(PipelineError::Internal(
                "the release step runs only after its preflight".to_owned(),
            ));
        };
        let push = matches!(self.goal, Goal::Release { .. });
        let mode = if push {
            Mode::Release(options)
        } else {
            Mode::Check
        };
        let manifest =
            release::publish(session, mode, preflight, self.scan.as_ref(), smoke).await?;
        if !push {
            self.summary.push(format!(
                "check passed      {} {} (nothing tagged or pushed)",
                manifest.project, manifest.version
            ));
        }
        for image in manifest.images.iter().filter(|_| push) {
            let target = match (&image.digest, &image.archive) {
                (Some(digest), _) => format!("{}@{digest}", image.repository),
                (None, Some(archive)) => archive.path.display().to_string(),
                (None, None) => format!("{} (dry run)", image.repository),
            };
            self.summary
                .push(format!("released {:<8} {target}", image.name));
        }
        Ok(())
    }
}
