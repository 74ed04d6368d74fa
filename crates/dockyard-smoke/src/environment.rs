//! The run's environment: its private network and data volume (both labelled with the run), the backing services of
//! `[services.<name>]` started on that network, the app's environment variables, one-off containers of the production
//! image in it (the migration, `cargo xtask run`'s command), and [`run_command`].

use std::collections::BTreeMap;

use dockyard_engine::{ContainerSpec, VolumeMount};
use dockyard_services::{ServiceImage, ServicesContext, Started};

use crate::{RunContext, SmokeError};

/// Where the app keeps writable data during a run (a volume labelled with the run, shared by the migration
/// container and the app container only; nginx shares nothing).
pub const DATA_MOUNT: &str = "/data";

/// How many lines of a one-off container's output are kept for an error message.
const ONE_OFF_TAIL_LINES: usize = 30;

/// The private network, the data volume, the scratch space and the backing services of one run's app containers.
pub(crate) struct SmokeEnvironment {
    pub(crate) network: String,
    pub(crate) data: Vec<VolumeMount>,
    pub(crate) tmpfs: BTreeMap<String, String>,
    /// The app's environment: `[app.env]`, the services' variables, the run's throwaway secret key.
    pub(crate) env: Vec<String>,
    /// The backing services, started and ready; `None` without `[services]`.
    pub(crate) services: Option<Started>,
}

impl SmokeEnvironment {
    /// Creates the run's network and data volume, both labelled with the run, then starts the backing services on
    /// that network and waits until each is ready (its version and the run's password checked).
    pub(crate) async fn create(
        run: &RunContext<'_>,
        purpose: &str,
    ) -> Result<SmokeEnvironment, SmokeError> {
        let project = &run.config.project.name;
        let network = format!("{project}-smoke-{}", run.run_id);
        run.engine.create_network(&network, &run.labels).await?;
        let data_volume = format!("{project}-data-{}", run.run_id);
        run.engine.ensure_volume(&data_volume, &run.labels).await?;
        run.progress.step(
            "smoke",
            &format!("network {network}, data volume {data_volume}"),
        );
        let services = start_services(run, purpose, &network).await?;
        let mut env = app_env(run);
        if let Some(services) = &services {
            env.extend(services.env());
        }
        Ok(SmokeEnvironment {
            network,
            data: vec![VolumeMount {
                volume: data_volume,
                target: DATA_MOUNT.to_owned(),
            }],
            tmpfs: BTreeMap::from([("/tmp".to_owned(), "rw,nosuid,nodev,size=64m".to_owned())]),
            env,
            services,
        })
    }
}

impl SmokeEnvironment {
    /// A container of the production image in this environment, as every app container runs: named
    /// `<project>-<role>-<run>`, read-only with the scratch space and the data volume, on the run's network, with the
    /// app's environment and the run's labels; `cmd` empty for the image's own command.
    pub(crate) fn app_container(
        &self,
        run: &RunContext<'_>,
        role: &str,
        cmd: Vec<String>,
    ) -> ContainerSpec {
        ContainerSpec {
            name: Some(format!("{}-{role}-{}", run.config.project.name, run.run_id)),
            image: run.app_image.id.clone(),
            cmd,
            env: self.env.clone(),
            labels: run.labels.clone(),
            volumes: self.data.clone(),
            tmpfs: self.tmpfs.clone(),
            read_only_root: true,
            network: Some(self.network.clone()),
            ..ContainerSpec::default()
        }
    }
}

/// Starts `[services.<name>]` on the run's network from the images the caller made sure of, and waits until each
/// is ready. `None` when the config has no services.
async fn start_services(
    run: &RunContext<'_>,
    purpose: &str,
    network: &str,
) -> Result<Option<Started>, SmokeError> {
    let config = run.config;
    if config.services.is_empty() {
        return Ok(None);
    }
    let mut images = Vec::new();
    for service in config.services.values() {
        let image =
            run.service_images
                .get(&service.name)
                .ok_or_else(|| SmokeError::ImageMissing {
                    reference: config.base(&service.base).image.to_string(),
                })?;
        images.push(ServiceImage {
            service,
            image: image.clone(),
        });
    }
    let progress = |line: &str| run.progress.detail(line);
    let context = ServicesContext {
        engine: run.engine,
        project: &config.project.name,
        run_id: run.run_id,
        purpose,
        network,
        labels: &run.labels,
        on_progress: &progress,
        data: dockyard_services::DataVolumes::PerRun,
    };
    let started = dockyard_services::start(&context, &images).await?;
    for (service, ready) in started.ready_times() {
        run.progress.detail(&format!(
            "service {service} ready in {} ms",
            ready.as_millis()
        ));
    }
    Ok(Some(started))
}

/// `[app.env]`, and the run's throwaway secret key as `DJANGO_SECRET_KEY` and each variable of `[app] secrets`, as
/// `KEY=value` lines.
fn app_env(run: &RunContext<'_>) -> Vec<String> {
    let mut env: Vec<String> = run
        .config
        .app
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    env.push(format!("DJANGO_SECRET_KEY={}", run.secret_key));
    for name in &run.config.app.secrets {
        env.push(format!("{name}={}", run.secret_key));
    }
    env
}

/// Runs `cmd` in a one-off container of the production image on the run's network, read-only, with the app's
/// environment; hands each output line to `on_line`. Returns the exit code and the last lines of output.
pub(crate) async fn run_one_off(
    run: &RunContext<'_>,
    environment: &SmokeEnvironment,
    purpose: &str,
    cmd: Vec<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<(i64, Vec<String>), SmokeError> {
    run_to_end(run, &environment.app_container(run, purpose, cmd), on_line).await
}

/// Runs the container `spec` describes until it exits, then removes it; hands each output line to `on_line`.
/// Returns the exit code and the last lines of output.
pub(crate) async fn run_to_end(
    run: &RunContext<'_>,
    spec: &ContainerSpec,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<(i64, Vec<String>), SmokeError> {
    let engine = run.engine;
    let container = engine.create_container(spec).await?;
    engine.start_container(&container).await?;
    let mut tail: Vec<String> = Vec::new();
    engine
        .follow_logs(&container, &mut |line| {
            on_line(line.text());
            tail.push(line.text().to_owned());
            if tail.len() > ONE_OFF_TAIL_LINES {
                tail.remove(0);
            }
        })
        .await?;
    let exit_code = engine.wait_container(&container).await?;
    engine.remove_container(&container).await?;
    Ok((exit_code, tail))
}

/// Runs Django's migrations in a one-off container on the run's network and data volume. Returns the exit code
/// and the last lines of output.
pub(crate) async fn migrate(
    run: &RunContext<'_>,
    environment: &SmokeEnvironment,
) -> Result<(i64, Vec<String>), SmokeError> {
    let command = ["python", "manage.py", "migrate", "--noinput"]
        .map(str::to_owned)
        .to_vec();
    run_one_off(run, environment, "migrate", command, &mut |line| {
        run.progress.output("migrate", line)
    })
    .await
}

/// `cargo xtask run -- CMD...`: migrates, then runs `cmd` in a one-off container of the production image with the
/// smoke environment and network, as `docker run --rm ... manage.py CMD` would. Returns the command's exit code;
/// [`SmokeError::MigrationFailed`] when the migrations failed.
pub async fn run_command(
    run: &RunContext<'_>,
    cmd: Vec<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<i64, SmokeError> {
    let environment = SmokeEnvironment::create(run, "run").await?;
    let (exit_code, tail) = migrate(run, &environment).await?;
    if exit_code != 0 {
        return Err(SmokeError::MigrationFailed { exit_code, tail });
    }
    run.progress.step("run", &cmd.join(" "));
    let exit_code = run_one_off(run, &environment, "run", cmd, on_line).await?.0;
    if let Some(services) = environment.services {
        services.stop(run.engine).await?;
    }
    Ok(exit_code)
}
