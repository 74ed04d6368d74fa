//! `smoke`: the production and nginx images running on a private network, checked through nginx and straight,
//! with built-in checks (static files, nginx behaviour, image structure, graceful stop) and the ones deploy.toml declares,
//! then, when asked (`smoke --load-seconds`), a bounded load through nginx.
//!
//! Everything it creates carries the run label; [`crate::run::with_cleanup`] removes it whatever happens.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockyard_config::{SmokeCheck, Via};
use dockyard_engine::{ContainerSpec, Engine, VolumeMount};
use dockyard_smoke::checks::{self, CheckSpec};
use dockyard_smoke::http::{self, HttpRequest, HttpResponse};
pub use dockyard_smoke::load::LoadOptions;
use dockyard_smoke::report::{CheckResult, SmokeReport};
use dockyard_smoke::structure::{self, ImageFacts, StructureExpectations};
use dockyard_smoke::SmokeError;

use crate::plan::STATIC_URL;
use crate::progress;
use crate::run::{throwaway_secret, Session};
use crate::state::ImageRecord;
use crate::PipelineError;

/// Where the app keeps writable data during a smoke run (a volume labelled with the run, shared by the
/// migration container and the app container only; nginx shares nothing).
pub const DATA_MOUNT: &str = "/data";
/// Commands Dockyard probes for in images: none of them may exist in the app or nginx image.
pub const COMPILER_PROBE: &str = "for tool in gcc cc c++ g++ clang make; do command -v $tool >/dev/null 2>&1 && echo $tool; done; true";

/// What a smoke run produced.
pub struct SmokeOutcome {
    /// The report, passed or not.
    pub report: SmokeReport,
    /// The JSON report on disk.
    pub json_path: PathBuf,
    /// The JUnit XML report on disk.
    pub junit_path: PathBuf,
}

/// The containers of one smoke run.
struct Running {
    app: String,
    nginx: Option<String>,
    app_address: SocketAddr,
    nginx_address: Option<SocketAddr>,
}

/// Runs the smoke tests of the built images and writes the reports. A failed check is not an `Err`:
/// the caller decides from `report.passed()`; `Err` means the run could not even start.
pub async fn smoke(
    session: &mut Session,
    mut notes: Vec<String>,
    load: Option<LoadOptions>,
) -> Result<SmokeOutcome, PipelineError> {
    let started = Instant::now();
    let production = session.production_image()?;
    let nginx = match &session.prepared.nginx {
        Some(prepared) => Some(session.state.nginx.clone().ok_or(
            PipelineError::MissingArtifact {
                what: "the nginx image (run `cargo xtask build`)",
                path: PathBuf::from(&prepared.tag),
            },
        )?),
        None => None,
    };
    let session: &Session = session;
    // The image structure checks (inspect, and a probe container per image) need no running app: they run
    // while the containers start and answer.
    let mut structure_results = Vec::new();
    let (containers_phase, structure) = tokio::join!(
        containers_phase(session, &production, nginx.as_ref(), load),
        structure_checks(session, &production, nginx.as_ref(), &mut structure_results),
    );
    let (mut results, start_to_healthy_ms, logs, load_note) = containers_phase?;
    notes.extend(load_note);
    structure?;
    results.extend(structure_results);

    let report = SmokeReport {
        project: session.prepared.config.project.name.clone(),
        run_id: session.run_id.clone(),
        checks: results,
        start_to_healthy_ms,
        total_ms: started.elapsed().as_millis() as u64,
        notes,
    };
    if !report.passed() {
        for (container, lines) in &logs {
            progress::detail(&format!(
                "--- last {} lines of {container} ---",
                lines.len()
            ));
            for line in lines {
                progress::output(container, line);
            }
        }
    }
    let target = &session.prepared.paths.target;
    let name = &session.prepared.config.project.name;
    let json_path = target.join(format!("{name}-smoke.json"));
    let junit_path = target.join(format!("{name}-smoke.junit.xml"));
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|source| PipelineError::Io {
            operation: "writing the smoke report",
            path: path.clone(),
            source,
        })
    };
    std::fs::create_dir_all(target).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: target.clone(),
        source,
    })?;
    write(&json_path, report.to_json())?;
    progress::append_step_summary(&format!(
        "### Dockyard smoke: {}\n\n```\n{}```\n\n",
        report.project,
        report.render_table()
    ));
    write(&junit_path, report.to_junit_xml())?;
    Ok(SmokeOutcome {
        report,
        json_path,
        junit_path,
    })
}

/// The running half of the smoke run: start, wait until ready, the HTTP checks (with the engine's health status
/// alongside), the logs, the graceful stops. Returns the results, the time to ready and the containers' logs.
async fn containers_phase(
    session: &Session,
    production: &ImageRecord,
    nginx: Option<&ImageRecord>,
    load: Option<LoadOptions>,
) -> Result<ContainersPhase, PipelineError> {
    let mut results = Vec::new();
    let mut start_to_healthy_ms = None;
    let mut logs = BTreeMap::new();
    let mut load_note = None;
    let started_containers = start_containers(session, production, nginx, &mut results).await?;
    if let Some((running, containers_started)) = started_containers {
        let ready = wait_until_ready(session, &running, containers_started, &mut results).await?;
        if let Some(elapsed) = ready {
            start_to_healthy_ms = Some(elapsed.as_millis() as u64);
            // The engine's health status is awaited alongside the HTTP checks, not before them.
            let (engine_health, checked) = tokio::join!(
                wait_for_engine_health(session, &running, containers_started),
                async {
                    let mut checks = Vec::new();
                    declared_checks(session, &running, &mut checks).await;
                    static_checks(session, &running, production, nginx, &mut checks).await?;
                    nginx_checks(session, &running, &mut checks).await;
                    Ok::<_, PipelineError>(checks)
                }
            );
            results.push(engine_health?);
            results.extend(checked?);
            if let Some(options) = load {
                if results.iter().all(|check| check.passed) {
                    load_note = Some(load_check(session, &running, options, &mut results).await);
                }
            }
        }
        logs = container_logs(&session.engine, &running).await;
        lifecycle_checks(session, &running, &mut results).await?;
    }
    Ok((results, start_to_healthy_ms, logs, load_note))
}

/// What the containers phase of a smoke run found: its checks, start-to-healthy time, the containers'
/// logs and the bounded load's note (when one ran).
type ContainersPhase = (
    Vec<CheckResult>,
    Option<u64>,
    BTreeMap<String, Vec<String>>,
    Option<String>,
);

fn app_env(session: &Session, secret_key: &str) -> Vec<String> {
    let mut env: Vec<String> = session
        .prepared
        .config
        .app
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    env.push(format!("DJANGO_SECRET_KEY={secret_key}"));
    env
}

fn result(
    group: &str,
    name: &str,
    started: Instant,
    mismatch: Option<(String, String, String)>,
) -> CheckResult {
    let (passed, expected, actual, detail) = match mismatch {
        None => (true, String::new(), String::new(), String::new()),
        Some((expected, actual, detail)) => (false, expected, actual, detail),
    };
    CheckResult {
        group: group.to_owned(),
        name: name.to_owned(),
        passed,
        duration_ms: started.elapsed().as_millis() as u64,
        expected,
        actual,
        detail,
    }
}

/// The private network, the data volume and the environment of one run's app containers.
#[derive(Clone)]
struct SmokeEnvironment {
    network: String,
    data: Vec<VolumeMount>,
    tmpfs: BTreeMap<String, String>,
    secret_key: String,
}

/// Creates the run's network and data volume (both labelled with the run) and a secret key for it.
async fn create_environment(session: &Session) -> Result<SmokeEnvironment, PipelineError> {
    let engine = &session.engine;
    let project = &session.prepared.config.project.name;
    let labels = session.run_labels();
    let network = format!("{project}-smoke-{}", session.run_id);
    engine.create_network(&network, &labels).await?;
    let data_volume = format!("{project}-data-{}", session.run_id);
    engine.ensure_volume(&data_volume, &labels).await?;
    progress::step(
        "smoke",
        &format!("network {network}, data volume {data_volume}"),
    );
    Ok(SmokeEnvironment {
        network,
        data: vec![VolumeMount {
            volume: data_volume,
            target: DATA_MOUNT.to_owned(),
        }],
        tmpfs: BTreeMap::from([("/tmp".to_owned(), "rw,nosuid,nodev,size=64m".to_owned())]),
        secret_key: throwaway_secret()?,
    })
}

/// Runs `cmd` in a one-off container of the production image on the run's network, read-only, with the app's
/// environment; hands each output line to `on_line`. Returns the exit code and the last lines of output.
async fn run_one_off(
    session: &Session,
    environment: &SmokeEnvironment,
    purpose: &str,
    cmd: Vec<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<(i64, Vec<String>), PipelineError> {
    let engine = &session.engine;
    let production = session.production_image()?;
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-{purpose}-{}",
            session.prepared.config.project.name, session.run_id
        )),
        image: production.id.clone(),
        cmd,
        env: app_env(session, &environment.secret_key),
        labels: session.run_labels(),
        volumes: environment.data.clone(),
        tmpfs: environment.tmpfs.clone(),
        read_only_root: true,
        network: Some(environment.network.clone()),
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&spec).await?;
    engine.start_container(&container).await?;
    let mut tail: Vec<String> = Vec::new();
    engine
        .follow_logs(&container, &mut |line| {
            on_line(line.text());
            tail.push(line.text().to_owned());
            if tail.len() > 30 {
                tail.remove(0);
            }
        })
        .await?;
    let exit_code = engine.wait_container(&container).await?;
    engine.remove_container(&container).await?;
    Ok((exit_code, tail))
}

/// Runs Django's migrations in a one-off container of the production image on the run's network and data volume.
async fn migrate(
    session: &Session,
    environment: &SmokeEnvironment,
) -> Result<(i64, Vec<String>), PipelineError> {
    let command = ["python", "manage.py", "migrate", "--noinput"]
        .map(str::to_owned)
        .to_vec();
    run_one_off(session, environment, "migrate", command, &mut |line| {
        progress::output("migrate", line)
    })
    .await
}

/// `cargo xtask run -- CMD...`: migrates, then runs `cmd` in a one-off container of the production image with the
/// smoke environment and network, as `docker run --rm ... manage.py CMD` would. Returns the command's exit code.
pub async fn run_command(
    session: &Session,
    cmd: Vec<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<i64, PipelineError> {
    let environment = create_environment(session).await?;
    let (exit_code, tail) = migrate(session, &environment).await?;
    if exit_code != 0 {
        return Err(PipelineError::BuilderStepFailed {
            step: "migrate".to_owned(),
            exit_code,
            tail,
        });
    }
    progress::step("run", &cmd.join(" "));
    Ok(run_one_off(session, &environment, "run", cmd, on_line)
        .await?
        .0)
}

/// Creates the network and the data volume, migrates, starts the app and nginx. `None` when a start failed (recorded).
async fn start_containers(
    session: &Session,
    production: &ImageRecord,
    nginx: Option<&ImageRecord>,
    results: &mut Vec<CheckResult>,
) -> Result<Option<(Running, Instant)>, PipelineError> {
    let engine = &session.engine;
    let config = &session.prepared.config;
    let project = &config.project.name;
    let labels = session.run_labels();
    let environment = create_environment(session).await?;
    let SmokeEnvironment {
        network,
        data,
        tmpfs,
        secret_key,
    } = environment.clone();

    let check_started = Instant::now();
    let (exit_code, tail) = migrate(session, &environment).await?;
    if exit_code != 0 {
        results.push(result(
            "lifecycle",
            "migrations run in a one-off container",
            check_started,
            Some((
                "exit code 0".to_owned(),
                format!("exit code {exit_code}"),
                tail.join("\n"),
            )),
        ));
        return Ok(None);
    }
    results.push(result(
        "lifecycle",
        "migrations run in a one-off container",
        check_started,
        None,
    ));

    let containers_started = Instant::now();
    let app_spec = ContainerSpec {
        name: Some(format!("{project}-app-{}", session.run_id)),
        image: production.id.clone(),
        env: app_env(session, &secret_key),
        labels: labels.clone(),
        volumes: data,
        tmpfs: tmpfs.clone(),
        read_only_root: true,
        network: Some(network.clone()),
        network_aliases: vec!["app".to_owned()],
        publish: vec![config.app.port],
        health_interval: Some(Duration::from_millis(500)),
        ..ContainerSpec::default()
    };
    let app = engine.create_container(&app_spec).await?;
    engine.start_container(&app).await?;
    let app_address = engine.published_address(&app, config.app.port).await?;
    progress::detail(&format!(
        "app container started, port {} on {app_address}",
        config.app.port
    ));

    let (nginx_container, nginx_address) = match (nginx, &config.nginx) {
        (Some(image), Some(nginx_config)) => {
            let spec = ContainerSpec {
                name: Some(format!("{project}-nginx-{}", session.run_id)),
                image: image.id.clone(),
                labels: labels.clone(),
                tmpfs,
                read_only_root: true,
                network: Some(network.clone()),
                network_aliases: vec!["nginx".to_owned()],
                publish: vec![nginx_config.port],
                health_interval: Some(Duration::from_millis(500)),
                ..ContainerSpec::default()
            };
            let container = engine.create_container(&spec).await?;
            engine.start_container(&container).await?;
            let address = match engine
                .published_address(&container, nginx_config.port)
                .await
            {
                Ok(address) => address,
                Err(_) => {
                    // nginx exited at once (for example an invalid config): record it with its log.
                    let tail = log_tail_text(engine, &container).await;
                    results.push(result(
                        "lifecycle",
                        "nginx starts",
                        containers_started,
                        Some((
                            "a running nginx".to_owned(),
                            "nginx exited".to_owned(),
                            tail,
                        )),
                    ));
                    return Ok(None);
                }
            };
            progress::detail(&format!(
                "nginx container started, port {} on {address}",
                nginx_config.port
            ));
            (Some(container), Some(address))
        }
        _ => (None, None),
    };
    Ok(Some((
        Running {
            app,
            nginx: nginx_container,
            app_address,
            nginx_address,
        },
        containers_started,
    )))
}

/// How often readiness is probed over HTTP: the wait adds at most this (plus one request) after the app answers.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often the container's state is read while waiting (exits and engine health).
const STATE_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Waits until the health endpoint answers 200 straight from the app, then through nginx (without nginx, straight
/// only), probing every [`READY_POLL_INTERVAL`]. Returns the time from container start to ready, or `None` after
/// recording the failure. The engine's health status is checked alongside the HTTP checks
/// ([`wait_for_engine_health`]), so waiting for its next interval adds nothing here.
async fn wait_until_ready(
    session: &Session,
    running: &Running,
    containers_started: Instant,
    results: &mut Vec<CheckResult>,
) -> Result<Option<Duration>, PipelineError> {
    let engine = &session.engine;
    let config = &session.prepared.config;
    let deadline = Duration::from_secs(config.smoke.startup_timeout_seconds);
    let request = get_request(&config.app.health_path, &default_host(session));
    let mut last_answer;
    let mut app_answered = false;
    // The wait adds at most the time since the last probe that found the app not ready (or since the first
    // probe, when the app answered at once): that is what the `ready:` line reports.
    let mut first_probe: Option<Duration> = None;
    let mut last_failed_probe_answered: Option<Duration> = None;
    // When the app's 200 was held until it could answer (a slow probe), the app answered as soon as it was
    // ready: the added wait is counted from that answer.
    let mut app_answered_at: Option<Duration> = None;
    let mut state_read: Option<Instant> = None;
    let mut nginx_state_read: Option<Instant> = None;
    let mut health = String::new();
    loop {
        if !app_answered && state_read.is_none_or(|read| read.elapsed() >= STATE_POLL_INTERVAL) {
            let state = engine.container_state(&running.app).await?;
            state_read = Some(Instant::now());
            if state.status == "exited" || state.status == "dead" {
                let tail = log_tail_text(engine, &running.app).await;
                results.push(result(
                    "lifecycle",
                    "app starts and stays up",
                    containers_started,
                    Some((
                        "a running app container".to_owned(),
                        format!("exited with code {}", state.exit_code),
                        tail,
                    )),
                ));
                return Ok(None);
            }
            health = state.health;
        }
        let address = match (app_answered, running.nginx_address) {
            (true, Some(nginx)) => nginx,
            _ => running.app_address,
        };
        let probe_started = containers_started.elapsed();
        first_probe.get_or_insert(probe_started);
        match http::send(address, &request, Duration::from_secs(5)).await {
            Ok(response)
                if response.status == 200 && (app_answered || running.nginx_address.is_none()) =>
            {
                let ready = containers_started.elapsed();
                progress::detail(&format!(
                    "ready: {} answered 200 after {} ms, {} ms after the previous probe that found it not ready (or the held answer; probing every {} ms)",
                    config.app.health_path,
                    ready.as_millis(),
                    ready
                        .saturating_sub(
                            app_answered_at
                                .or(last_failed_probe_answered)
                                .or(first_probe)
                                .unwrap_or_default()
                        )
                        .as_millis(),
                    READY_POLL_INTERVAL.as_millis()
                ));
                return Ok(Some(ready));
            }
            Ok(response) if response.status == 200 => {
                // Straight from the app: now through nginx, at once.
                app_answered = true;
                let answered = containers_started.elapsed();
                if answered.saturating_sub(probe_started) > 2 * READY_POLL_INTERVAL {
                    app_answered_at = Some(answered);
                }
                continue;
            }
            Ok(response) => last_answer = format!("HTTP {}", response.status),
            Err(error) => last_answer = error.to_string(),
        }
        if !app_answered {
            last_failed_probe_answered = Some(containers_started.elapsed());
        }
        // nginx with an invalid config exits at once, maybe only after its port was published: say so now,
        // not after the startup deadline. Read only after a probe that failed, so never on the ready path.
        if let Some(nginx) = &running.nginx {
            if nginx_state_read.is_none_or(|read| read.elapsed() >= STATE_POLL_INTERVAL) {
                let nginx_state = engine.container_state(nginx).await?;
                nginx_state_read = Some(Instant::now());
                if nginx_state.status == "exited" || nginx_state.status == "dead" {
                    let tail = log_tail_text(engine, nginx).await;
                    results.push(result(
                        "lifecycle",
                        "nginx starts",
                        containers_started,
                        Some((
                            "a running nginx".to_owned(),
                            format!("nginx exited with code {}", nginx_state.exit_code),
                            tail,
                        )),
                    ));
                    return Ok(None);
                }
            }
        }
        if containers_started.elapsed() > deadline {
            let tail = log_tail_text(engine, &running.app).await;
            results.push(result(
                "lifecycle",
                "app becomes healthy (engine health and HTTP)",
                containers_started,
                Some((
                    format!(
                        "healthy and {} answering 200 within {} s",
                        config.app.health_path,
                        deadline.as_secs()
                    ),
                    format!("engine health `{health}`, last answer: {last_answer}"),
                    tail,
                )),
            ));
            return Ok(None);
        }
        tokio::time::sleep(READY_POLL_INTERVAL).await;
    }
}

/// Waits until the engine reports the app container healthy (its HEALTHCHECK at the smoke interval), while the
/// HTTP checks run; records the lifecycle check either way.
async fn wait_for_engine_health(
    session: &Session,
    running: &Running,
    containers_started: Instant,
) -> Result<CheckResult, PipelineError> {
    let engine = &session.engine;
    let deadline = Duration::from_secs(session.prepared.config.smoke.startup_timeout_seconds);
    let name = "app becomes healthy (engine health and HTTP)";
    loop {
        let state = engine.container_state(&running.app).await?;
        if state.health.is_empty() || state.health == "healthy" {
            progress::detail(&format!(
                "engine health `healthy` after {} ms",
                containers_started.elapsed().as_millis()
            ));
            return Ok(result("lifecycle", name, containers_started, None));
        }
        if state.status == "exited"
            || state.status == "dead"
            || containers_started.elapsed() > deadline
        {
            let tail = log_tail_text(engine, &running.app).await;
            return Ok(result(
                "lifecycle",
                name,
                containers_started,
                Some((
                    format!("engine health `healthy` within {} s", deadline.as_secs()),
                    format!("engine health `{}`, status {}", state.health, state.status),
                    tail,
                )),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Holds a bounded load of `GET /` through nginx (straight to the app without nginx) after the checks passed;
/// records one check that fails on any 5xx answer or any request without an answer. Returns the report's note.
async fn load_check(
    session: &Session,
    running: &Running,
    options: LoadOptions,
    results: &mut Vec<CheckResult>,
) -> String {
    let address = running.nginx_address.unwrap_or(running.app_address);
    let through = if running.nginx_address.is_some() {
        "nginx"
    } else {
        "the app"
    };
    let name = format!(
        "GET / through {through}, {} connections for {} s: no 5xx, no errors",
        options.connections,
        options.duration.as_secs()
    );
    progress::detail(&format!("load: {name}"));
    let started = Instant::now();
    let measured =
        dockyard_smoke::load::run_load(address, &get_request("/", &default_host(session)), options)
            .await;
    let summary = measured.summary();
    progress::detail(&format!("load: {summary}"));
    let mismatch = (measured.n_5xx() > 0 || measured.n_errors > 0).then(|| {
        (
            "no 5xx answers and no failed requests".to_owned(),
            summary.clone(),
            measured.first_error.clone().unwrap_or_default(),
        )
    });
    results.push(result("load", &name, started, mismatch));
    format!(
        "load: GET / through {through}, {} connections, {} s: {summary}",
        options.connections,
        options.duration.as_secs()
    )
}

fn default_host(session: &Session) -> String {
    session
        .prepared
        .config
        .nginx
        .as_ref()
        .and_then(|nginx| nginx.server_names.first().cloned())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn get_request(path: &str, host: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".to_owned(),
        path: path.to_owned(),
        host: host.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn check_spec(check: &SmokeCheck) -> CheckSpec {
    CheckSpec {
        name: check.name.clone(),
        path: check.path.clone(),
        via: match check.via {
            Via::Nginx => checks::Via::Nginx,
            Via::App => checks::Via::App,
        },
        method: check.method.clone(),
        status: check.status,
        host: check.host.clone(),
        json: check.json.clone(),
        headers: check.headers.clone(),
        body_contains: check.body_contains.clone(),
    }
}

async fn declared_checks(session: &Session, running: &Running, results: &mut Vec<CheckResult>) {
    for check in &session.prepared.config.smoke.checks {
        let started = Instant::now();
        let spec = check_spec(check);
        let address = match spec.via {
            checks::Via::Nginx => running.nginx_address.unwrap_or(running.app_address),
            checks::Via::App => running.app_address,
        };
        let host = spec.host.clone().unwrap_or_else(|| default_host(session));
        let request = HttpRequest {
            method: spec.method.clone(),
            path: spec.path.clone(),
            host,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let mismatch = match http::send(address, &request, Duration::from_secs(10)).await {
            Ok(response) => {
                let mismatches = checks::evaluate(&spec, &response);
                (!mismatches.is_empty()).then(|| {
                    let expected = mismatches
                        .iter()
                        .map(|mismatch| format!("{}: {}", mismatch.what, mismatch.expected))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let actual = mismatches
                        .iter()
                        .map(|mismatch| format!("{}: {}", mismatch.what, mismatch.actual))
                        .collect::<Vec<_>>()
                        .join("; ");
                    (expected, actual, String::new())
                })
            }
            Err(error) => Some((
                format!("HTTP {}", spec.status),
                error.to_string(),
                String::new(),
            )),
        };
        results.push(result("declared", &check.name, started, mismatch));
    }
}

/// Every `/static/` URL on the rendered page resolves through nginx with immutable caching, precompressed
/// variants are served, and both images carry the same `staticfiles.json`.
async fn static_checks(
    session: &Session,
    running: &Running,
    production: &ImageRecord,
    nginx: Option<&ImageRecord>,
    results: &mut Vec<CheckResult>,
) -> Result<(), PipelineError> {
    let (Some(nginx_address), Some(nginx_container), Some(nginx_image)) =
        (running.nginx_address, &running.nginx, nginx)
    else {
        return Ok(());
    };
    let host = default_host(session);
    let started = Instant::now();
    let page = http::send(
        nginx_address,
        &get_request("/", &host),
        Duration::from_secs(10),
    )
    .await;
    let urls = match &page {
        Ok(response) if response.status == 200 => {
            dockyard_smoke::static_urls::static_urls(&response.body_text(), STATIC_URL)
        }
        _ => Vec::new(),
    };
    let page_problem = match &page {
        Ok(response) if response.status != 200 => Some(format!("HTTP {}", response.status)),
        Err(error) => Some(error.to_string()),
        Ok(_) if urls.is_empty() => Some(format!("a page with no {STATIC_URL} URL")),
        Ok(_) => None,
    };
    results.push(result(
        "static",
        "the rendered page references static files",
        started,
        page_problem.map(|actual| {
            (
                format!("GET / answers 200 and references {STATIC_URL} URLs"),
                actual,
                String::new(),
            )
        }),
    ));
    for url in &urls {
        let started = Instant::now();
        let mut request = get_request(url, &host);
        request
            .headers
            .push(("Accept-Encoding".to_owned(), "gzip".to_owned()));
        let hashed = dockyard_smoke::static_urls::is_hashed_static_name(url);
        let mismatch = match http::send(nginx_address, &request, Duration::from_secs(10)).await {
            Ok(response) => static_mismatch(&response, hashed),
            Err(error) => Some(("HTTP 200".to_owned(), error.to_string(), String::new())),
        };
        results.push(result(
            "static",
            &format!("{url} through nginx"),
            started,
            mismatch,
        ));
    }

    let started = Instant::now();
    let static_root = session
        .prepared
        .config
        .app
        .static_root
        .display()
        .to_string();
    let in_app = read_file_from_container(
        session,
        &running.app,
        &format!("/app/{static_root}/staticfiles.json"),
    )
    .await;
    let in_nginx =
        read_file_from_container(session, nginx_container, "/srv/static/staticfiles.json").await;
    let label_of = async |image: &ImageRecord| -> Option<String> {
        session
            .engine
            .image(&image.id)
            .await
            .ok()
            .flatten()?
            .labels
            .get(crate::plan::STATIC_MANIFEST_LABEL)
            .cloned()
    };
    let (app_label, nginx_label) = (label_of(production).await, label_of(nginx_image).await);
    let same_label = app_label.is_some() && app_label == nginx_label;
    let mismatch = match (in_app, in_nginx) {
        (Ok(app_manifest), Ok(nginx_manifest)) if app_manifest == nginx_manifest && same_label => {
            None
        }
        (Ok(app_manifest), Ok(nginx_manifest)) if app_manifest == nginx_manifest => Some((
            format!(
                "the same {} label on both images",
                crate::plan::STATIC_MANIFEST_LABEL
            ),
            format!("app {app_label:?}, nginx {nginx_label:?}"),
            String::new(),
        )),
        (Ok(app_manifest), Ok(nginx_manifest)) => Some((
            "identical staticfiles.json in both images".to_owned(),
            format!(
                "app {} bytes, nginx {} bytes, different",
                app_manifest.len(),
                nginx_manifest.len()
            ),
            String::new(),
        )),
        (Err(error), _) | (_, Err(error)) => Some((
            "staticfiles.json in both images".to_owned(),
            error.to_string(),
            String::new(),
        )),
    };
    results.push(result(
        "static",
        "staticfiles.json is identical in both images",
        started,
        mismatch,
    ));
    Ok(())
}

fn static_mismatch(response: &HttpResponse, hashed: bool) -> Option<(String, String, String)> {
    let cache_control = response.header("cache-control").unwrap_or("").to_owned();
    if response.status != 200 {
        return Some((
            "HTTP 200".to_owned(),
            format!("HTTP {}", response.status),
            String::new(),
        ));
    }
    if hashed
        && !(cache_control.contains("immutable") && cache_control.contains("max-age=31536000"))
    {
        return Some((
            "Cache-Control: public, max-age=31536000, immutable".to_owned(),
            format!("Cache-Control: {cache_control}"),
            String::new(),
        ));
    }
    if !hashed && cache_control.contains("immutable") {
        return Some((
            "a short max-age for an unhashed name".to_owned(),
            format!("Cache-Control: {cache_control}"),
            String::new(),
        ));
    }
    None
}

/// Reads one file out of a container through the API (a tar stream with one entry).
async fn read_file_from_container(
    session: &Session,
    container: &str,
    path: &str,
) -> Result<Vec<u8>, PipelineError> {
    let download = session
        .prepared
        .paths
        .target
        .join(format!("work-{}", session.run_id))
        .join(format!(
            "download-{}.tar",
            container.get(..12).unwrap_or(container)
        ));
    if let Some(parent) = download.parent() {
        std::fs::create_dir_all(parent).map_err(|source| PipelineError::Io {
            operation: "creating",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    session
        .engine
        .download_to_file(container, path, &download)
        .await?;
    let file = std::fs::File::open(&download).map_err(|source| PipelineError::Io {
        operation: "opening",
        path: download.clone(),
        source,
    })?;
    let mut archive = tar::Archive::new(file);
    let io_error = |source| PipelineError::Io {
        operation: "reading the archive",
        path: download.clone(),
        source,
    };
    let mut entries = archive.entries().map_err(io_error)?;
    let mut bytes = Vec::new();
    if let Some(entry) = entries.next() {
        std::io::Read::read_to_end(&mut entry.map_err(io_error)?, &mut bytes).map_err(io_error)?;
    }
    let _ = std::fs::remove_file(&download);
    Ok(bytes)
}

/// nginx drops unknown hosts, refuses bodies over the limit with 413, and hides its version.
async fn nginx_checks(session: &Session, running: &Running, results: &mut Vec<CheckResult>) {
    let (Some(address), Some(nginx)) = (running.nginx_address, &session.prepared.config.nginx)
    else {
        return;
    };
    let started = Instant::now();
    let mismatch = match http::send(
        address,
        &get_request("/", "unknown-host.invalid"),
        Duration::from_secs(5),
    )
    .await
    {
        Err(SmokeError::NoResponse { .. }) => None,
        Ok(response) => Some((
            "the connection closed without a response".to_owned(),
            format!("HTTP {}", response.status),
            String::new(),
        )),
        Err(error) => Some((
            "the connection closed without a response".to_owned(),
            error.to_string(),
            String::new(),
        )),
    };
    results.push(result(
        "nginx",
        "requests for unknown hosts are dropped",
        started,
        mismatch,
    ));

    let started = Instant::now();
    let limit = parse_nginx_size(&nginx.client_max_body_size);
    let mut request = get_request("/", &default_host(session));
    request.method = "POST".to_owned();
    request.body = vec![b'x'; (limit + 1) as usize];
    let mismatch = match http::send(address, &request, Duration::from_secs(20)).await {
        Ok(response) if response.status == 413 => None,
        Ok(response) => Some((
            "HTTP 413".to_owned(),
            format!("HTTP {}", response.status),
            String::new(),
        )),
        Err(error) => Some(("HTTP 413".to_owned(), error.to_string(), String::new())),
    };
    results.push(result(
        "nginx",
        &format!("a body over {} gets 413", nginx.client_max_body_size),
        started,
        mismatch,
    ));

    let started = Instant::now();
    let mismatch = match http::send(
        address,
        &get_request(
            &session.prepared.config.app.health_path,
            &default_host(session),
        ),
        Duration::from_secs(5),
    )
    .await
    {
        Ok(response) => {
            let server = response.header("server").unwrap_or("").to_owned();
            (server.contains('/') || server.chars().any(|character| character.is_ascii_digit()))
                .then(|| {
                    (
                        "a Server header without a version".to_owned(),
                        format!("Server: {server}"),
                        String::new(),
                    )
                })
        }
        Err(error) => Some(("a response".to_owned(), error.to_string(), String::new())),
    };
    results.push(result(
        "nginx",
        "the Server header hides the version",
        started,
        mismatch,
    ));
}

/// nginx's size syntax: `10m`, `512k`, `1g`, `100`.
pub fn parse_nginx_size(size: &str) -> u64 {
    let (digits, multiplier) = match size.chars().last() {
        Some('k' | 'K') => (&size[..size.len() - 1], 1024),
        Some('m' | 'M') => (&size[..size.len() - 1], 1024 * 1024),
        Some('g' | 'G') => (&size[..size.len() - 1], 1024 * 1024 * 1024),
        _ => (size, 1),
    };
    digits.parse::<u64>().unwrap_or(0) * multiplier
}

async fn container_logs(engine: &Engine, running: &Running) -> BTreeMap<String, Vec<String>> {
    let mut logs = BTreeMap::new();
    logs.insert(
        "app".to_owned(),
        engine.logs_tail(&running.app, 40).await.unwrap_or_default(),
    );
    if let Some(nginx) = &running.nginx {
        logs.insert(
            "nginx".to_owned(),
            engine.logs_tail(nginx, 40).await.unwrap_or_default(),
        );
    }
    logs
}

/// The last 30 lines a container printed, as one text for a failed check's detail.
async fn log_tail_text(engine: &Engine, container: &str) -> String {
    engine
        .logs_tail(container, 30)
        .await
        .unwrap_or_default()
        .join("\n")
}

/// `stop` returns well within the timeout and the process exits 0: nginx first (SIGQUIT), then the app (SIGTERM).
async fn lifecycle_checks(
    session: &Session,
    running: &Running,
    results: &mut Vec<CheckResult>,
) -> Result<(), PipelineError> {
    // Both stop at once, as `docker stop nginx app` does; each is timed on its own.
    let app = stop_gracefully(session, "app", &running.app);
    match &running.nginx {
        Some(nginx) => {
            let (nginx, app) = tokio::join!(stop_gracefully(session, "nginx", nginx), app);
            results.push(nginx?);
            results.push(app?);
        }
        None => results.push(app.await?),
    }
    Ok(())
}

async fn stop_gracefully(
    session: &Session,
    name: &str,
    container: &str,
) -> Result<CheckResult, PipelineError> {
    let timeout = session.prepared.config.smoke.stop_timeout_seconds;
    let started = Instant::now();
    session
        .engine
        .stop_container(container, timeout as u32)
        .await?;
    let elapsed = started.elapsed();
    let state = session.engine.container_state(container).await?;
    let well_within = elapsed < Duration::from_secs(timeout) / 2;
    let mismatch = (!(well_within && state.exit_code == 0)).then(|| {
        (
            format!("exit code 0 within {} s", timeout / 2),
            format!(
                "exit code {} after {} ms",
                state.exit_code,
                elapsed.as_millis()
            ),
            String::new(),
        )
    });
    progress::detail(&format!(
        "{name} stopped in {} ms with exit code {}",
        elapsed.as_millis(),
        state.exit_code
    ));
    Ok(result(
        "lifecycle",
        &format!("{name} stops gracefully"),
        started,
        mismatch,
    ))
}

async fn image_facts(session: &Session, image: &ImageRecord) -> Result<ImageFacts, PipelineError> {
    let engine = &session.engine;
    let info = engine
        .image(&image.id)
        .await?
        .ok_or(PipelineError::MissingArtifact {
            what: "an image to inspect",
            path: PathBuf::from(&image.tag),
        })?;
    let history = engine.image_history(&image.id).await?;
    let probe = ContainerSpec {
        image: image.id.clone(),
        cmd: vec!["sh".to_owned(), "-c".to_owned(), COMPILER_PROBE.to_owned()],
        labels: session.run_labels(),
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&probe).await?;
    engine.start_container(&container).await?;
    engine.wait_container(&container).await?;
    let compilers_found = engine
        .logs_tail(&container, 20)
        .await?
        .into_iter()
        .filter(|line| !line.trim().is_empty())
        .collect();
    engine.remove_container(&container).await?;
    Ok(ImageFacts {
        reference: image.tag.clone(),
        user: info.user,
        exposed_ports: info.exposed_ports,
        healthcheck: info.healthcheck,
        env: info.env,
        labels: info.labels,
        history,
        size_bytes: info.size,
        compilers_found,
    })
}

async fn structure_checks(
    session: &Session,
    production: &ImageRecord,
    nginx: Option<&ImageRecord>,
    results: &mut Vec<CheckResult>,
) -> Result<(), PipelineError> {
    let config = &session.prepared.config;
    let mib = |budget: Option<u64>| budget.map(|megabytes| megabytes * 1024 * 1024);
    let nginx = nginx.zip(config.nginx.as_ref());
    let (facts, nginx_facts) = tokio::join!(image_facts(session, production), async {
        match nginx {
            Some((image, _)) => image_facts(session, image).await.map(Some),
            None => Ok(None),
        }
    });
    let facts = facts?;
    let expectations = StructureExpectations {
        exposed_ports: vec![format!("{}/tcp", config.app.port)],
        size_budget_bytes: mib(config.smoke.app_size_budget_mb),
        require_healthcheck: true,
    };
    for mut check in structure::structure_checks(&facts, &expectations) {
        check.group = "structure app".to_owned();
        results.push(check);
    }
    if let (Some(facts), Some((_, nginx_config))) = (nginx_facts?, nginx) {
        let expectations = StructureExpectations {
            exposed_ports: vec![format!("{}/tcp", nginx_config.port)],
            size_budget_bytes: mib(config.smoke.nginx_size_budget_mb),
            require_healthcheck: false,
        };
        for mut check in structure::structure_checks(&facts, &expectations) {
            check.group = "structure nginx".to_owned();
            results.push(check);
        }
    }
    Ok(())
}
