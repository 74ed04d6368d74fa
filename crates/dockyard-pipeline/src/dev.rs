//! `cargo xtask dev`: the development session from the same `deploy.toml`. The services start on a private network
//! with their data in kept volumes, the dependencies volume (production and test sets) is made or reused, the
//! migrations run, and the app is served by Django's development server (or gunicorn) in a container of the builder
//! image as the host user, published on the engine's host. Changed files are uploaded into the running container as
//! small tar streams through the API (deletions too) and the server restarts at once; a changed dependency file
//! rebuilds the dependencies volume and restarts the app. No bind mount, so a remote engine works unchanged.
//! `cargo xtask dev -- manage.py shell` runs a one-off command beside a running session (or with the services of its
//! own), attached to the terminal. Everything but the kept volumes carries the run's labels: Ctrl-C removes it.

mod environment;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockyard_context::PackOptions;
use dockyard_dev::{HostUser, Layout, Watcher, RESTART_SIGNAL};
use dockyard_engine::{Engine, LogLine};
use dockyard_services::{DataVolumes, ServiceImage, ServicesContext, Started};
use tokio::io::AsyncWriteExt;

pub(crate) use self::environment::keep_tail;
use self::environment::{
    dev_environment, ensure_dependencies, kept_labels, DevContainers, PURPOSE,
};
pub use self::environment::{DEV_DATA_LABEL, DEV_SESSION_LABEL};
use crate::run::{created_work_dir, Session};
use crate::{builder_protocol, progress, PipelineError};

/// What the line `cargo xtask dev` prints (to stderr) once the app answers holds, its URL's address after it.
pub const SERVING: &str = "serving http://";
/// How often the app is asked whether it answers yet.
const READY_PROBE: Duration = Duration::from_millis(50);

/// Runs the dev session (`command` empty) until Ctrl-C, or the one-off `command` beside it; returns the exit code.
pub(crate) async fn run(session: &mut Session, command: &[String]) -> Result<i64, PipelineError> {
    let builder = session.builder_image()?;
    let started = Instant::now();
    // The session streams its containers' output and a one-off may own the terminal: no live view under them.
    progress::plain_from_now();
    let engine = session.engine.clone();
    let project = session.prepared.config.project.name.clone();
    let running = running_session(&engine, &project).await?;
    let joined = match running {
        // A second session would start the services again on the same kept data.
        Some(network) if command.is_empty() => {
            return Err(PipelineError::DevSessionRunning { project, network })
        }
        running => running,
    };
    progress::step("dev", "the dependencies volume (production and test sets)");
    let dependencies_volume = ensure_dependencies(session, &builder.id).await?;
    let kept = kept_labels(&project);
    let data_volume = format!("{project}-{PURPOSE}-data");
    engine.ensure_volume(&data_volume, &kept).await?;

    let (network, services, services_env) = match joined {
        Some(network) => {
            progress::detail(&format!("joining the running dev session on {network}"));
            let services: Vec<&dockyard_config::Service> =
                session.prepared.config.services.values().collect();
            let env = dockyard_services::kept_env(&engine, &project, PURPOSE, &services)
                .await
                .map_err(PipelineError::BuilderServices)?;
            (network, None, env)
        }
        None => {
            let network = format!("{project}-{PURPOSE}-{}", session.run_id);
            let mut labels = session.run_labels();
            if command.is_empty() {
                labels.insert(DEV_SESSION_LABEL.to_owned(), project.clone());
            }
            engine.create_network(&network, &labels).await?;
            let services = start_services(session, &network).await?;
            let env = services.as_ref().map(Started::env).unwrap_or_default();
            (network, services, env)
        }
    };
    let mut containers = DevContainers {
        builder_id: builder.id.clone(),
        network,
        env: dev_environment(session, &services_env)?,
        dependencies_volume,
        data_volume,
        user: HostUser::current(),
    };
    // Watching starts before the source is packed, so no save between the two is lost (one in both is synced twice).
    let watcher = if command.is_empty() {
        let layout = layout(session);
        let watcher = Watcher::new(&layout.recursive_folders(), &layout.flat_folders())?;
        Some((watcher, layout))
    } else {
        None
    };
    let source = pack_source(session).await?;
    let outcome = if let Some(watcher) = watcher {
        serve(
            session,
            &mut containers,
            services.as_ref(),
            &source,
            watcher,
            started,
        )
        .await
    } else {
        one_off(session, &containers, command, &source).await
    };
    if let Some(services) = services {
        // Their kept volumes stay; a failure to stop is left to the run's label sweep.
        let _ = services.stop(&engine).await;
    }
    outcome
}

/// The network of a dev session of `project` running now, if any.
async fn running_session(engine: &Engine, project: &str) -> Result<Option<String>, PipelineError> {
    let label = format!("{DEV_SESSION_LABEL}={project}");
    let found = engine.find_labelled(&[&label]).await?;
    Ok(found.networks.into_iter().next())
}

/// Starts `[services]` on `network` with their data in kept volumes; `None` without services.
async fn start_services(
    session: &Session,
    network: &str,
) -> Result<Option<Started>, PipelineError> {
    let config = &session.prepared.config;
    if config.services.is_empty() {
        return Ok(None);
    }
    let images = session.service_images()?;
    let images: Vec<ServiceImage<'_>> = config
        .services
        .values()
        .map(|service| ServiceImage {
            service,
            image: images[&service.name].clone(),
        })
        .collect();
    let labels = session.run_labels();
    let kept = kept_labels(&config.project.name);
    let on_progress = |line: &str| progress::detail(line);
    let context = ServicesContext {
        engine: &session.engine,
        project: &config.project.name,
        run_id: &session.run_id,
        purpose: PURPOSE,
        network,
        labels: &labels,
        on_progress: &on_progress,
        data: DataVolumes::Kept { labels: &kept },
    };
    let started = dockyard_services::start(&context, &images)
        .await
        .map_err(PipelineError::BuilderServices)?;
    for (service, ready) in started.ready_times() {
        progress::detail(&format!(
            "service {service} ready in {} ms (its data is kept between dev sessions)",
            ready.as_millis()
        ));
    }
    Ok(Some(started))
}

/// Packs the app's source as the context would hold it, into the run's work folder.
async fn pack_source(session: &Session) -> Result<PathBuf, PipelineError> {
    let path = created_work_dir(session)?.join("dev-source.tar.gz");
    let config = session.prepared.config.clone();
    let target = path.clone();
    tokio::task::spawn_blocking(move || {
        dockyard_context::write_tarball_file(&target, |out| {
            dockyard_context::pack_source_tree(
                &config.app.path,
                &crate::plan::source_rules(&config),
                &PackOptions::default(),
                out,
            )
        })
    })
    .await
    .map_err(|error| PipelineError::Internal(format!("packing the source: {error}")))??;
    Ok(path)
}

/// Follows a container's output to stdout, each line prefixed with `prefix`, until the container ends.
fn follow(engine: &Engine, container: &str, prefix: String) -> tokio::task::JoinHandle<()> {
    let engine = engine.clone();
    let container = container.to_owned();
    tokio::spawn(async move {
        let _ = engine
            .follow_logs(&container, &mut |line: LogLine| {
                progress::command_output(&format!("{prefix} | {}", line.text()));
            })
            .await;
    })
}

/// Runs `cmd` in a dev container until it exits, its output prefixed on stdout; fails naming `what`.
async fn run_to_end(
    session: &Session,
    containers: &DevContainers,
    source: &std::path::Path,
    role: &str,
    cmd: &[&str],
    what: &str,
) -> Result<(), PipelineError> {
    let engine = &session.engine;
    let spec = containers.spec(
        session,
        role,
        cmd.iter().map(|part| part.to_string()).collect(),
    );
    let container = containers.create(session, &spec, source).await?;
    engine.start_container(&container).await?;
    let mut tail = Vec::new();
    engine
        .follow_logs(&container, &mut |line: LogLine| {
            progress::command_output(&format!("{role} | {}", line.text()));
            keep_tail(&mut tail, line.text());
        })
        .await?;
    let exit_code = engine.wait_container(&container).await?;
    engine.remove_container(&container).await?;
    if exit_code != 0 {
        return Err(PipelineError::DevStepFailed {
            what: what.to_owned(),
            exit_code,
            tail,
        });
    }
    Ok(())
}

/// The app's running container, where it answers, and the task following its output.
struct App {
    container: String,
    url: String,
    /// The host port it is published on: a restarted app gets the same one, so the URL stays.
    port: u16,
    logs: tokio::task::JoinHandle<()>,
}

/// Creates and starts the app's container published on `host_port` (0: any free one), follows its output, and
/// waits until it answers HTTP.
async fn start_app(
    session: &Session,
    containers: &DevContainers,
    source: &std::path::Path,
    host_port: u16,
) -> Result<App, PipelineError> {
    let config = &session.prepared.config;
    let engine = &session.engine;
    let mut spec = containers.spec(
        session,
        "app",
        dockyard_dev::server_command(config.dev.server, config.app.port, &config.app.wsgi),
    );
    spec.publish = vec![config.app.port];
    spec.host_ports.insert(config.app.port, host_port);
    let container = containers.create(session, &spec, source).await?;
    engine.start_container(&container).await?;
    let logs = follow(engine, &container, "app".to_owned());
    let address = engine
        .published_address(&container, config.app.port)
        .await?;
    let url = format!("http://{address}/");
    let deadline = Instant::now() + Duration::from_secs(config.smoke.startup_timeout_seconds);
    loop {
        if answers_http(address).await {
            break;
        }
        let state = engine.container_state(&container).await?;
        if state.status.has_ended() || Instant::now() >= deadline {
            let tail = engine.logs_tail(&container, 40).await.unwrap_or_default();
            return Err(PipelineError::DevStepFailed {
                what: format!("the app's server ({})", config.dev.server),
                exit_code: state.exit_code,
                tail,
            });
        }
        tokio::time::sleep(READY_PROBE).await;
    }
    Ok(App {
        container,
        url,
        port: address.port(),
        logs,
    })
}

/// Whether something at `address` answers an HTTP request with a status line.
async fn answers_http(address: std::net::SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        stream
            .write_all(b"HEAD / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut first = [0u8; 5];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut first)
            .await
            .ok()?;
        (&first == b"HTTP/").then_some(())
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// The session: migrations, the app, then every change synced until Ctrl-C.
async fn serve(
    session: &mut Session,
    containers: &mut DevContainers,
    services: Option<&Started>,
    source: &std::path::Path,
    (mut watcher, layout): (Watcher, Layout),
    started: Instant,
) -> Result<i64, PipelineError> {
    let engine = session.engine.clone();
    if let Some(services) = services {
        for (name, container) in services.containers() {
            follow(&engine, &container, name);
        }
    }
    run_to_end(
        session,
        containers,
        source,
        "migrate",
        &["python", "manage.py", "migrate", "--noinput"],
        "the migrations",
    )
    .await?;
    let mut app = start_app(
        session,
        containers,
        source,
        session.prepared.config.dev.port,
    )
    .await?;
    progress::done(
        "dev",
        started,
        &format!(
            "serving {} ({} as uid {}; Ctrl-C stops it and keeps the data volumes)",
            app.url, session.prepared.config.dev.server, containers.user.uid
        ),
    );
    loop {
        let exited = {
            let engine = engine.clone();
            let container = app.container.clone();
            async move { engine.wait_container(&container).await }
        };
        let batch = tokio::select! {
            batch = watcher.next_batch() => batch,
            code = exited => {
                let tail = engine.logs_tail(&app.container, 40).await.unwrap_or_default();
                return Err(PipelineError::DevStepFailed {
                    what: "the app's container".to_owned(),
                    exit_code: code?,
                    tail,
                });
            }
        };
        let Some(batch) = batch else {
            return Ok(0);
        };
        let changes = layout.classify(&batch);
        if !changes.dependencies.is_empty() {
            let names: Vec<String> = changes
                .dependencies
                .iter()
                .map(|path| path.display().to_string())
                .collect();
            progress::step(
                "dev",
                &format!("{} changed: rebuilding the dependencies", names.join(", ")),
            );
            match rebuild_dependencies(session, containers).await {
                Ok(()) => {
                    app.logs.abort();
                    engine.remove_container(&app.container).await?;
                    let source = pack_source(session).await?;
                    // The previous set's volume stays: reverting the change reuses it; the next export forgets it.
                    app = start_app(session, containers, &source, app.port).await?;
                    progress::step("dev", &format!("serving {} (restarted)", app.url));
                }
                // A broken lock while editing is not the end of the session: say so and keep serving.
                Err(error) => progress::warning(&format!(
                    "dev: the dependencies were not rebuilt, the app keeps the old ones: {error}"
                )),
            }
            continue;
        }
        if !changes.assets.is_empty() {
            progress::step(
                "dev",
                &format!(
                    "{} changed: rebuilding the assets",
                    changes.assets[0].display()
                ),
            );
            // A broken build while editing is not the end of the session: say so and keep serving.
            if let Err(error) = rebuild_assets(session, &app).await {
                progress::warning(&format!(
                    "dev: the assets were not rebuilt, the app keeps the last build: {error}"
                ));
            }
        }
        if !changes.source.is_empty() {
            sync(session, &app, &layout, changes.source).await?;
        }
    }
}

/// Where the session looks for changes.
fn layout(session: &Session) -> Layout {
    let prepared = &session.prepared;
    Layout {
        source_root: prepared.config.app.path.clone(),
        dependency_files: prepared
            .locked
            .files
            .iter()
            .map(|member| prepared.config.root.join(&member.path))
            .collect(),
        // Only a Node build is rerun on a change; one in the builder is not part of the session.
        asset_folders: prepared
            .config
            .assets
            .iter()
            .filter(|assets| assets.runs_in == dockyard_config::AssetsRunsIn::Node)
            .flat_map(|assets| std::iter::once(&assets.path).chain(&assets.sources))
            .map(|folder| prepared.config.root.join(folder))
            .collect(),
        skipped: vec![prepared.paths.target.clone()],
    }
}

/// Locks the dependency files again and makes the dependencies volume of the new set.
async fn rebuild_dependencies(
    session: &mut Session,
    containers: &mut DevContainers,
) -> Result<(), PipelineError> {
    session.prepared.locked = crate::locked::lock(&session.prepared.config)?;
    let builder_id = containers.builder_id.clone();
    containers.dependencies_volume = ensure_dependencies(session, &builder_id).await?;
    Ok(())
}

/// Hashes the asset folders again, reruns the Node build (skipped when its inputs did not change after all), uploads
/// its output into the app's container as the builder would receive it, and restarts the server.
async fn rebuild_assets(session: &mut Session, app: &App) -> Result<(), PipelineError> {
    let config = session.prepared.config.clone();
    let Some(assets) = &config.assets else {
        return Ok(());
    };
    let options = PackOptions {
        mtime: session.prepared.provenance.source_date_epoch,
    };
    session.prepared.assets = Some(crate::assets::prepare(&config, assets, &options)?);
    let record = crate::run::build_assets(session).await?;
    let engine = &session.engine;
    engine
        .upload_tar_file(&app.container, "/", &record.path)
        .await?;
    engine
        .signal_container(&app.container, RESTART_SIGNAL)
        .await?;
    progress::detail(&format!(
        "dev: assets output {} uploaded; the server restarts",
        record.path.display()
    ));
    Ok(())
}

/// Uploads the changed files (under the context's rules), deletes the gone ones, and restarts the server.
async fn sync(
    session: &Session,
    app: &App,
    layout: &Layout,
    changed: Vec<PathBuf>,
) -> Result<(), PipelineError> {
    let started = Instant::now();
    let engine = &session.engine;
    let root = layout.source_root.clone();
    let rules = crate::plan::source_rules(&session.prepared.config);
    let (tar, partial) = tokio::task::spawn_blocking(move || {
        let mut tar = Vec::new();
        dockyard_context::pack_source_paths(
            &root,
            &rules,
            &changed,
            &PackOptions::default(),
            &mut tar,
        )
        .map(|partial| (tar, partial))
    })
    .await
    .map_err(|error| PipelineError::Internal(format!("packing changed files: {error}")))??;
    if partial.packed.is_empty() && partial.gone.is_empty() {
        return Ok(());
    }
    if !partial.packed.is_empty() {
        engine
            .upload_tar_bytes(&app.container, builder_protocol::SOURCE_DIR, tar)
            .await?;
    }
    if !partial.gone.is_empty() {
        let mut remove = vec!["rm".to_owned(), "-rf".to_owned(), "--".to_owned()];
        remove.extend(
            partial
                .gone
                .iter()
                .map(|path| format!("{}/{}", builder_protocol::SOURCE_DIR, path.display())),
        );
        engine.exec(&app.container, &remove, Some("0")).await?;
    }
    engine
        .signal_container(&app.container, RESTART_SIGNAL)
        .await?;
    let list = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut what = Vec::new();
    if !partial.packed.is_empty() {
        what.push(format!("synced {}", list(&partial.packed)));
    }
    if !partial.gone.is_empty() {
        what.push(format!("removed {}", list(&partial.gone)));
    }
    progress::detail(&format!(
        "dev: {} in {} ms; the server restarts",
        what.join("; "),
        started.elapsed().as_millis()
    ));
    Ok(())
}

/// A one-off command in a dev container, attached to this process's stdin and stdout (a TTY when stdin is one).
async fn one_off(
    session: &Session,
    containers: &DevContainers,
    command: &[String],
    source: &std::path::Path,
) -> Result<i64, PipelineError> {
    let engine = &session.engine;
    let mut cmd = command.to_vec();
    // `dev -- manage.py shell` runs it with the venv's python, as `./manage.py` would.
    if cmd.first().is_some_and(|first| first.ends_with(".py")) {
        cmd.insert(0, "python".to_owned());
    }
    let interactive = std::io::stdin().is_terminal();
    let mut spec = containers.spec(session, "run", cmd);
    spec.interactive_tty = interactive;
    spec.open_stdin = !interactive;
    let container = containers.create(session, &spec, source).await?;
    let raw = if interactive {
        dockyard_dev::RawTerminal::enter()
    } else {
        None
    };
    let code = engine
        .run_attached(&container, stdin_reader(), &mut tokio::io::stdout())
        .await;
    drop(raw);
    engine.remove_container(&container).await?;
    Ok(code?)
}

/// This process's stdin as an async reader fed by a thread of its own: a blocked read of stdin must not keep the
/// runtime from shutting down once the command has ended.
fn stdin_reader() -> std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>> {
    let (reader, mut writer) = tokio::io::duplex(64 * 1024);
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 16 * 1024];
        let mut stdin = std::io::stdin().lock();
        loop {
            let read = match std::io::Read::read(&mut stdin, &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            if handle.block_on(writer.write_all(&buffer[..read])).is_err() {
                break;
            }
        }
        let _ = handle.block_on(writer.shutdown());
    });
    Box::pin(reader)
}
