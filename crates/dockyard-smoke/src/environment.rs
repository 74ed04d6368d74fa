//! The run's environment: its private network and data volume (both labelled with the run), the app's
//! environment variables, one-off containers of the production image in it (the migration, `cargo xtask run`'s
//! command), and [`run_command`].

use std::collections::BTreeMap;

use dockyard_engine::{ContainerSpec, VolumeMount};

use crate::{RunContext, SmokeError};

/// Where the app keeps writable data during a run (a volume labelled with the run, shared by the migration
/// container and the app container only; nginx shares nothing).
pub const DATA_MOUNT: &str = "/data";

/// How many lines of a one-off container's output are kept for an error message.
const ONE_OFF_TAIL_LINES: usize = 30;

/// The private network, the data volume and the scratch space of one run's app containers.
#[derive(Clone)]
pub(crate) struct SmokeEnvironment {
    pub(crate) network: String,
    pub(crate) data: Vec<VolumeMount>,
    pub(crate) tmpfs: BTreeMap<String, String>,
}

impl SmokeEnvironment {
    /// Creates the run's network and data volume, both labelled with the run.
    pub(crate) async fn create(run: &RunContext<'_>) -> Result<SmokeEnvironment, SmokeError> {
        let project = &run.config.project.name;
        let network = format!("{project}-smoke-{}", run.run_id);
        run.engine.create_network(&network, &run.labels).await?;
        let data_volume = format!("{project}-data-{}", run.run_id);
        run.engine.ensure_volume(&data_volume, &run.labels).await?;
        run.progress.step(
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
        })
    }
}

/// `[app.env]` and the run's throwaway `DJANGO_SECRET_KEY`, as `KEY=value` lines.
pub(crate) fn app_env(run: &RunContext<'_>) -> Vec<String> {
    let mut env: Vec<String> = run
        .config
        .app
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    env.push(format!("DJANGO_SECRET_KEY={}", run.secret_key));
    env
}

/// Runs `cmd` in a one-off container of the production image on the run's network, read-only, with the app's
/// environment; hands each output line to `on_line`. Returns the exit code and the last lines of output.
async fn run_one_off(
    run: &RunContext<'_>,
    environment: &SmokeEnvironment,
    purpose: &str,
    cmd: Vec<String>,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<(i64, Vec<String>), SmokeError> {
    let engine = run.engine;
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-{purpose}-{}",
            run.config.project.name, run.run_id
        )),
        image: run.app_image.id.clone(),
        cmd,
        env: app_env(run),
        labels: run.labels.clone(),
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
    let environment = SmokeEnvironment::create(run).await?;
    let (exit_code, tail) = migrate(run, &environment).await?;
    if exit_code != 0 {
        return Err(SmokeError::MigrationFailed { exit_code, tail });
    }
    run.progress.step("run", &cmd.join(" "));
    Ok(run_one_off(run, &environment, "run", cmd, on_line).await?.0)
}
