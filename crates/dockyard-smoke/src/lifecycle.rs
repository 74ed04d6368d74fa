//! The containers' lifecycle: the backing services, the migration (and the check that it reached the service's
//! database), starting the app, its other processes and nginx in the run's environment, their logs, and the graceful
//! stops (nginx with SIGQUIT, the app with SIGTERM, each well within the stop timeout; then the processes and the
//! services).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dockyard_engine::{ContainerSpec, Engine};
use dockyard_services::Started;

use crate::environment::{self, SmokeEnvironment};
use crate::processes::{self, RunningProcess};
use crate::report::Failure;
use crate::{CheckResult, RunContext, SmokeError, SmokeImage};

/// The group of the lifecycle checks.
pub(crate) const GROUP: &str = "lifecycle";
/// How often the engine runs the images' HEALTHCHECK during a smoke run.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);
/// How many lines of each container's log the report shows when a check failed.
const REPORT_LOG_LINES: usize = 40;
/// How many lines of a container's log a failed lifecycle check carries.
const CHECK_LOG_LINES: usize = 30;

/// The containers of one run, and where their published ports answer.
pub(crate) struct Running {
    pub(crate) app: String,
    pub(crate) nginx: Option<String>,
    pub(crate) app_address: SocketAddr,
    pub(crate) nginx_address: Option<SocketAddr>,
    /// When the app container was started: readiness and engine health count from here.
    pub(crate) started: Instant,
    /// The `[[app.process]]` containers.
    pub(crate) processes: Vec<RunningProcess>,
    /// The backing services; stopped after the app.
    pub(crate) services: Option<Started>,
    /// The one-off container of Django's deployment checks, run while the app starts answering.
    pub(crate) django_checks: Option<ContainerSpec>,
}

impl Running {
    /// Where requests "through nginx" go: nginx, or the app when there is no nginx.
    pub(crate) fn front_address(&self) -> SocketAddr {
        self.nginx_address.unwrap_or(self.app_address)
    }
}

/// Creates the environment, migrates, starts the app and nginx. `None` when the migration or a start failed
/// (recorded in `results`).
pub(crate) async fn start_containers(
    run: &RunContext<'_>,
    nginx_image: Option<&SmokeImage>,
    results: &mut Vec<CheckResult>,
) -> Result<Option<Running>, SmokeError> {
    let engine = run.engine;
    let config = run.config;
    let project = &config.project.name;
    let environment = SmokeEnvironment::create(run, "smoke").await?;

    let check_started = Instant::now();
    let name = "migrations run in a one-off container";
    let (exit_code, tail) = environment::migrate(run, &environment).await?;
    if exit_code != 0 {
        let failure = Failure::new("exit code 0", format!("exit code {exit_code}"))
            .with_detail(tail.join("\n"));
        results.push(CheckResult::timed(
            GROUP,
            name,
            check_started,
            Some(failure),
        ));
        return Ok(None);
    }
    results.push(CheckResult::timed(GROUP, name, check_started, None));
    if let Some(services) = &environment.services {
        for check in services.database_check(engine).await {
            let failure = (!check.passed).then(|| {
                Failure::new(
                    "the migrations in the service's database",
                    check.detail.clone(),
                )
            });
            results.push(CheckResult::timed(
                GROUP,
                &format!("the app's database is service `{}`", check.service),
                check_started,
                failure,
            ));
        }
    }

    let started = Instant::now();
    let app_spec = ContainerSpec {
        network_aliases: vec!["app".to_owned()],
        publish: vec![config.app.port],
        health_interval: Some(HEALTH_INTERVAL),
        ..environment.app_container(run, "app", Vec::new())
    };
    let app = engine.create_container(&app_spec).await?;
    engine.start_container(&app).await?;
    let app_address = engine.published_address(&app, config.app.port).await?;
    run.progress.detail(&format!(
        "app container started, port {} on {app_address}",
        config.app.port
    ));
    let processes = processes::start(run, &environment).await?;

    let (nginx, nginx_address) = match (nginx_image, &config.nginx) {
        (Some(image), Some(nginx_config)) => {
            let spec = ContainerSpec {
                name: Some(format!("{project}-nginx-{}", run.run_id)),
                image: image.id.clone(),
                labels: run.labels.clone(),
                tmpfs: environment.tmpfs.clone(),
                read_only_root: true,
                network: Some(environment.network.clone()),
                network_aliases: vec!["nginx".to_owned()],
                publish: vec![nginx_config.port],
                health_interval: Some(HEALTH_INTERVAL),
                ..ContainerSpec::default()
            };
            let container = engine.create_container(&spec).await?;
            engine.start_container(&container).await?;
            let Ok(address) = engine
                .published_address(&container, nginx_config.port)
                .await
            else {
                // nginx exited at once (for example an invalid config): record it with its log.
                let tail = log_tail_text(engine, &container).await;
                let failure = Failure::new("a running nginx", "nginx exited").with_detail(tail);
                results.push(CheckResult::timed(
                    GROUP,
                    "nginx starts",
                    started,
                    Some(failure),
                ));
                return Ok(None);
            };
            run.progress.detail(&format!(
                "nginx container started, port {} on {address}",
                nginx_config.port
            ));
            (Some(container), Some(address))
        }
        _ => (None, None),
    };
    Ok(Some(Running {
        django_checks: crate::django_checks::container(run, &environment),
        app,
        nginx,
        app_address,
        nginx_address,
        started,
        processes,
        services: environment.services,
    }))
}

/// The last lines each container printed, by name (`app`, `nginx`, each process and service), for the report of a
/// failed run.
pub(crate) async fn container_logs(
    engine: &Engine,
    running: &Running,
) -> BTreeMap<String, Vec<String>> {
    let mut logs = BTreeMap::new();
    logs.insert(
        "app".to_owned(),
        engine
            .logs_tail(&running.app, REPORT_LOG_LINES)
            .await
            .unwrap_or_default(),
    );
    if let Some(nginx) = &running.nginx {
        logs.insert(
            "nginx".to_owned(),
            engine
                .logs_tail(nginx, REPORT_LOG_LINES)
                .await
                .unwrap_or_default(),
        );
    }
    for process in &running.processes {
        logs.insert(
            process.name.clone(),
            engine
                .logs_tail(&process.container, REPORT_LOG_LINES)
                .await
                .unwrap_or_default(),
        );
    }
    if let Some(services) = &running.services {
        logs.extend(services.log_tails(engine, REPORT_LOG_LINES).await);
    }
    logs
}

/// The last lines a container printed, as one text for a failed check's detail.
pub(crate) async fn log_tail_text(engine: &Engine, container: &str) -> String {
    engine
        .logs_tail(container, CHECK_LOG_LINES)
        .await
        .unwrap_or_default()
        .join("\n")
}

/// `stop` returns well within the timeout and the process exits 0: nginx (SIGQUIT) and the app (SIGTERM); then the
/// app's other processes are stopped and the services after them.
pub(crate) async fn stop_checks(
    run: &RunContext<'_>,
    running: Running,
    results: &mut Vec<CheckResult>,
) -> Result<(), SmokeError> {
    // Both stop at once, as `docker stop nginx app` does; each is timed on its own.
    let app = stop_gracefully(run, "app", &running.app);
    match &running.nginx {
        Some(nginx) => {
            let (nginx, app) = tokio::join!(stop_gracefully(run, "nginx", nginx), app);
            results.push(nginx?);
            results.push(app?);
        }
        None => results.push(app.await?),
    }
    for process in &running.processes {
        results.push(stop_gracefully(run, &process.name, &process.container).await?);
    }
    if let Some(services) = running.services {
        services.stop(run.engine).await?;
    }
    Ok(())
}

async fn stop_gracefully(
    run: &RunContext<'_>,
    name: &str,
    container: &str,
) -> Result<CheckResult, SmokeError> {
    let timeout = run.config.smoke.stop_timeout_seconds;
    let started = Instant::now();
    run.engine.stop_container(container, timeout as u32).await?;
    let elapsed = started.elapsed();
    let state = run.engine.container_state(container).await?;
    let well_within = elapsed < Duration::from_secs(timeout) / 2;
    let failure = (!(well_within && state.exit_code == 0)).then(|| {
        Failure::new(
            format!("exit code 0 within {} s", timeout / 2),
            format!(
                "exit code {} after {} ms",
                state.exit_code,
                elapsed.as_millis()
            ),
        )
    });
    run.progress.detail(&format!(
        "{name} stopped in {} ms with exit code {}",
        elapsed.as_millis(),
        state.exit_code
    ));
    Ok(CheckResult::timed(
        GROUP,
        &format!("{name} stops gracefully"),
        started,
        failure,
    ))
}
