//! Figure 9: `cargo xtask dev`, from saving a view to the running app answering with the new content (median of ten
//! saves), against the compose-style setup a team writes by hand: the same builder image and dependencies volume,
//! the app folder bind-mounted, `manage.py runserver` with Django's own autoreloader. Also the start-up of a session
//! with everything cached, and the same save-to-served loop with the engine reached over TCP at this machine's
//! network address (a remote engine as Dockyard sees one: no bind mount, published ports on the engine's address).

#![allow(
    clippy::disallowed_methods,
    reason = "the figure polls a server and waits between saves on plain threads, outside any async runtime"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dockyard_pipeline::dev::SERVING;

use crate::baseline;
use crate::error::{io, BenchError};
use crate::figures::{Options, Outcome};
use crate::stats::Summary;
use crate::verdict::{Row, Statistic, Target, Unit};

/// The figure's number in BENCHMARKS.md.
const FIGURE: u8 = 9;
/// The bench project's name.
const NAME: &str = "dockyard-bench-dev";
/// Saves measured per side.
const SAVES: usize = 10;
/// The goal: a saved view served within a second.
const SAVE_TO_SERVED_GOAL_MS: f64 = 1000.0;
/// How long one save may take to show before the figure gives up.
const GIVE_UP: Duration = Duration::from_secs(60);
/// The engine's socket the TCP forwarder reaches.
const ENGINE_SOCKET: &str = "/var/run/docker.sock";
/// The view the saves rewrite, relative to the project.
const VIEW: &str = "app/notes/views.py";

fn command_error(what: &str, message: impl Into<String>) -> BenchError {
    BenchError::Command {
        what: what.to_owned(),
        message: message.into(),
    }
}

/// A running `cargo xtask dev`: its process, where it serves, the thread draining its output.
struct Session {
    pid: u32,
    address: String,
    drain: std::thread::JoinHandle<()>,
}

impl Session {
    /// Starts `dev` on `config` with `env`; returns it once it serves, with the seconds that took.
    fn start(
        options: &Options,
        config: &Path,
        env: &[(String, String)],
    ) -> Result<(Session, f64), BenchError> {
        let started = Instant::now();
        let mut command = duct::cmd(
            &options.xtask,
            [
                "--config".to_owned(),
                config.display().to_string(),
                "dev".to_owned(),
            ],
        )
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin_null()
        .stderr_to_stdout()
        .unchecked();
        for (key, value) in env {
            command = command.env(key, value);
        }
        let reader = command.reader().map_err(io("running", &options.xtask))?;
        let pid = reader.pids().first().copied().unwrap_or_default();
        let mut lines = BufReader::new(reader).lines();
        let mut seen = Vec::new();
        let address = loop {
            let Some(Ok(line)) = lines.next() else {
                return Err(command_error("xtask dev", seen.join("\n")));
            };
            if let Some(rest) = line.split(SERVING).nth(1) {
                break rest.split('/').next().unwrap_or_default().to_owned();
            }
            seen.push(line);
        };
        let seconds = started.elapsed().as_secs_f64();
        // Its output is drained until it exits, so the pipe never fills.
        let drain = std::thread::spawn(move || lines.for_each(drop));
        Ok((
            Session {
                pid,
                address,
                drain,
            },
            seconds,
        ))
    }

    /// Ctrl-C, and waits until it has cleaned up and exited.
    fn stop(self) -> Result<(), BenchError> {
        duct::cmd!("kill", "-INT", self.pid.to_string())
            .run()
            .map_err(io("running", Path::new("kill")))?;
        let _ = self.drain.join();
        Ok(())
    }
}

/// GET / with `Host: localhost`: the body, or `None` when nothing answered.
fn body(address: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Saves the view `SAVES` times, each answering with a new marker, and measures save to first answer holding it.
fn save_to_served(project: &Path, address: &str, side: &str) -> Result<Vec<f64>, BenchError> {
    let view = project.join(VIEW);
    let original = std::fs::read_to_string(&view).map_err(io("reading", &view))?;
    let mut samples = Vec::new();
    for save in 0..SAVES {
        let marker = format!("{side} save {save} {:?}", Instant::now());
        let text = format!(
            "from django.http import HttpResponse\n\n\ndef index(request):\n    return HttpResponse(\"{marker}\")\n"
        );
        let saved = Instant::now();
        std::fs::write(&view, text).map_err(io("writing", &view))?;
        loop {
            if body(address).is_some_and(|body| body.contains(&marker)) {
                break;
            }
            if saved.elapsed() > GIVE_UP {
                return Err(command_error(
                    side,
                    format!("save {save} not served within {GIVE_UP:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        samples.push(saved.elapsed().as_secs_f64() * 1000.0);
        // Settle, so the next save is not part of the same batch or reload.
        std::thread::sleep(Duration::from_millis(1500));
    }
    std::fs::write(&view, original).map_err(io("writing", &view))?;
    Ok(samples)
}

/// The baseline (`baseline.sh dev-serve`): a container of the same builder image with the app folder bind-mounted
/// and the dependencies and data volumes Dockyard's session used, serving `runserver` with Django's autoreloader, in
/// the environment the dev session gives the app (the settings, `[app.env]`, then `[dev.env]`).
fn baseline(project: &Path, options: &Options) -> Result<Vec<f64>, BenchError> {
    let venv = dockyard_pipeline::builder_protocol::DEPENDENCIES_CACHE_DIR;
    let config = dockyard_config::load(&project.join("deploy.toml"))
        .map_err(|error| command_error("the bench project's deploy.toml", error.to_string()))?;
    let mut env = vec![
        format!("PATH={venv}/venv/bin:/usr/bin:/bin"),
        format!("DJANGO_SETTINGS_MODULE={}", config.app.settings_module),
        "PYTHONUNBUFFERED=1".to_owned(),
    ];
    env.extend(
        config
            .app
            .env
            .iter()
            .chain(&config.dev.env)
            .map(|(key, value)| format!("{key}={value}")),
    );
    let env_file = options.work.join("dev-baseline.env");
    std::fs::write(&env_file, env.join("\n") + "\n").map_err(io("writing", &env_file))?;
    let (app, image, env_path) = (
        project.join("app").display().to_string(),
        format!("{NAME}-builder:latest"),
        env_file.display().to_string(),
    );
    let (_, listening) = baseline::run(&["dev-serve", NAME, &app, &image, &env_path, venv])?;
    let address = listening.trim().to_owned();
    let outcome = (|| {
        let deadline = Instant::now() + GIVE_UP;
        while body(&address).is_none() {
            if Instant::now() > deadline {
                return Err(command_error("the baseline", "runserver never answered"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        save_to_served(project, &address, "baseline")
    })();
    baseline::run(&["dev-stop", NAME])?;
    outcome
}

/// Forwards TCP connections on this machine's network address to the engine's socket, so `DOCKER_HOST=tcp://...`
/// reaches the same engine the way a remote one is reached. Returns the `DOCKER_HOST` value.
fn tcp_forwarder() -> Result<String, BenchError> {
    let ip = duct::cmd!("hostname", "-I")
        .read()
        .map_err(io("running", Path::new("hostname")))?
        .split_whitespace()
        .find(|address| {
            address
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .map(str::to_owned)
        .ok_or_else(|| command_error("hostname -I", "no network address"))?;
    let listener = TcpListener::bind((ip.as_str(), 0)).map_err(io("listening", Path::new(&ip)))?;
    let address = listener
        .local_addr()
        .map_err(io("listening", Path::new(&ip)))?;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(engine) = UnixStream::connect(ENGINE_SOCKET) else {
                continue;
            };
            let (Ok(mut client_read), Ok(mut engine_read)) =
                (client.try_clone(), engine.try_clone())
            else {
                continue;
            };
            let (mut client_write, mut engine_write) = (client, engine);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_read, &mut engine_write);
                let _ = engine_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut engine_read, &mut client_write);
                let _ = client_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    Ok(format!("tcp://{address}"))
}

fn row(
    name: String,
    dockyard: &[f64],
    baseline: Option<&[f64]>,
    targets: Vec<Target>,
    unit: Unit,
) -> Option<Row> {
    Some(Row {
        figure: FIGURE,
        name,
        unit,
        dockyard: Summary::of(dockyard)?,
        baseline: baseline.and_then(Summary::of),
        targets,
    })
}

/// Figure 9.
pub(crate) fn figure_dev_loop(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let project: PathBuf = crate::services::project(options, NAME, "deploy.toml")?;
    let config = project.join("deploy.toml");
    let mut deploy = std::fs::read_to_string(&config).map_err(io("reading", &config))?;
    deploy.push_str("\n[dev]\nport = 0\nenv = { DJANGO_DEBUG = \"true\" }\n");
    std::fs::write(&config, deploy).map_err(io("writing", &config))?;

    progress("figure 9: a first dev session (builds the builder image and the dependencies)");
    let (session, _) = Session::start(options, &config, &[])?;
    session.stop()?;
    progress("figure 9: a dev session with everything cached, then ten saves of a view");
    let (session, start_seconds) = Session::start(options, &config, &[])?;
    let dockyard = save_to_served(&project, &session.address, "dockyard");
    session.stop()?;
    let dockyard = dockyard?;
    progress("figure 9: the baseline, a bind mount and Django's autoreloader, ten saves");
    let base = baseline(&project, options)?;
    progress("figure 9: the engine over TCP at this machine's address, ten saves");
    let host = tcp_forwarder()?;
    let (session, _) = Session::start(
        options,
        &config,
        &[("DOCKER_HOST".to_owned(), host.clone())],
    )?;
    let remote = save_to_served(&project, &session.address, "remote");
    session.stop()?;
    let remote = remote?;
    let goal = || {
        vec![Target::ValueAtMost(
            SAVE_TO_SERVED_GOAL_MS,
            Statistic::Median,
        )]
    };
    outcome.rows.extend(row(
        "dev: a saved view served by the running app (baseline: the app folder bind-mounted, runserver's autoreloader)"
            .to_owned(),
        &dockyard,
        Some(&base),
        goal(),
        Unit::Milliseconds,
    ));
    outcome.rows.extend(row(
        format!("dev against the engine over TCP ({host}): a saved view served (no bind mount; baseline: the local bind mount)"),
        &remote,
        Some(&base),
        goal(),
        Unit::Milliseconds,
    ));
    outcome.rows.extend(row(
        "dev: start-up with everything cached, to the app answering (PostgreSQL-free sample: migrations, runserver)".to_owned(),
        &[start_seconds],
        None,
        Vec::new(),
        Unit::Seconds,
    ));
    outcome.commands.push((FIGURE, format!("cargo xtask --config target/bench/{NAME}/deploy.toml dev (a copy of deploy.toml with [dev] port = 0, DJANGO_DEBUG on), {SAVES} saves of {VIEW} each answered with a new marker, timed from the write to the first GET / holding it; baseline: {} (a container of {NAME}-builder:latest with app/ bind-mounted at /src, the session's dependencies and data volumes, `python manage.py runserver` with Django's StatReloader); then the same session with DOCKER_HOST={host} (a TCP forwarder to the engine's socket on this machine's network address)", baseline::describe(&["dev-serve", NAME, "APP", "IMAGE", "ENV_FILE", dockyard_pipeline::builder_protocol::DEPENDENCIES_CACHE_DIR]))));
    Ok(())
}
