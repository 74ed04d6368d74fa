//! The app's other processes (`[[app.process]]`: a Celery worker, beat): started from the production image beside
//! the app, with its environment and network, each checked ready by its own command or by staying up.

use std::time::{Duration, Instant};

use dockyard_config::ProcessReady;
use dockyard_engine::ContainerSpec;

use crate::environment::SmokeEnvironment;
use crate::lifecycle::{log_tail_text, GROUP};
use crate::report::Failure;
use crate::{CheckResult, RunContext, SmokeError};

/// How long to wait between two tries of a process's ready command.
const READY_RETRY: Duration = Duration::from_millis(1000);

/// One started `[[app.process]]`.
pub(crate) struct RunningProcess {
    /// The process's name in deploy.toml.
    pub(crate) name: String,
    /// Its container.
    pub(crate) container: String,
    /// When it was started: its readiness counts from here.
    started: Instant,
}

/// Creates and starts a container of the production image for each `[[app.process]]`, read-only like the app's.
pub(crate) async fn start(
    run: &RunContext<'_>,
    environment: &SmokeEnvironment,
) -> Result<Vec<RunningProcess>, SmokeError> {
    let mut running = Vec::new();
    for process in &run.config.app.processes {
        let spec = ContainerSpec {
            network_aliases: vec![process.name.clone()],
            ..environment.app_container(run, &process.name, process.command.clone())
        };
        let container = run.engine.create_container(&spec).await?;
        run.engine.start_container(&container).await?;
        run.progress.detail(&format!(
            "process {} started: {}",
            process.name,
            process.command.join(" ")
        ));
        running.push(RunningProcess {
            name: process.name.clone(),
            container,
            started: Instant::now(),
        });
    }
    Ok(running)
}

/// One check per process: its ready command exits 0 within its timeout, or it is still running after its stay-up
/// time.
pub(crate) async fn readiness_checks(
    run: &RunContext<'_>,
    processes: &[RunningProcess],
) -> Result<Vec<CheckResult>, SmokeError> {
    let mut results = Vec::new();
    for (process, config) in processes.iter().zip(&run.config.app.processes) {
        let failure = match &config.ready {
            ProcessReady::Command {
                command,
                timeout_seconds,
            } => {
                ready_command(run, process, command, Duration::from_secs(*timeout_seconds)).await?
            }
            ProcessReady::StaysUp { seconds } => {
                stays_up(run, process, Duration::from_secs(*seconds)).await?
            }
        };
        results.push(CheckResult::timed(
            GROUP,
            &format!("process `{}` is ready", process.name),
            process.started,
            failure,
        ));
    }
    Ok(results)
}

/// Runs `command` in the process's container until it exits 0; a failure when the container ends first or the
/// timeout passes.
async fn ready_command(
    run: &RunContext<'_>,
    process: &RunningProcess,
    command: &[String],
    timeout: Duration,
) -> Result<Option<Failure>, SmokeError> {
    let expected = format!(
        "`{}` exits 0 within {} s",
        command.join(" "),
        timeout.as_secs()
    );
    loop {
        let state = run.engine.container_state(&process.container).await?;
        if state.status.has_ended() {
            let tail = log_tail_text(run.engine, &process.container).await;
            return Ok(Some(
                Failure::new(
                    expected,
                    format!("the process exited with code {}", state.exit_code),
                )
                .with_detail(tail),
            ));
        }
        let answer = run.engine.exec(&process.container, command, None).await?;
        if answer.exit_code == 0 {
            return Ok(None);
        }
        let last_answer = format!("exit code {}: {}", answer.exit_code, answer.output.trim());
        if process.started.elapsed() >= timeout {
            let tail = log_tail_text(run.engine, &process.container).await;
            return Ok(Some(
                Failure::new(expected, format!("still failing: {last_answer}")).with_detail(tail),
            ));
        }
        tokio::time::sleep(READY_RETRY).await;
    }
}

/// Waits until `seconds` after the start, then checks the container still runs.
async fn stays_up(
    run: &RunContext<'_>,
    process: &RunningProcess,
    seconds: Duration,
) -> Result<Option<Failure>, SmokeError> {
    if let Some(left) = seconds.checked_sub(process.started.elapsed()) {
        tokio::time::sleep(left).await;
    }
    let state = run.engine.container_state(&process.container).await?;
    if state.status.has_ended() {
        let tail = log_tail_text(run.engine, &process.container).await;
        return Ok(Some(
            Failure::new(
                format!("still running after {} s", seconds.as_secs()),
                format!("exited with code {}", state.exit_code),
            )
            .with_detail(tail),
        ));
    }
    Ok(None)
}
