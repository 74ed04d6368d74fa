//! What every dev container shares: the dependencies volume (made by the builder script, stopping after the
//! dependencies), the environment, the kept data volume, the container spec, and a container created with the
//! source, the launcher and the asset outputs uploaded.

use std::collections::BTreeMap;
use std::path::Path;

use dockyard_context::PackOptions;
use dockyard_dev::HostUser;
use dockyard_engine::{ContainerSpec, LogLine, VolumeMount, PROJECT_LABEL};

use crate::run::builder_container::{
    builder_environment, ca_bundle, cache_mounts, ensure_cache_volumes, upload_ca_bundle,
    upload_locked_set, BuilderOutput, Purpose,
};
use crate::run::{throwaway_secret, Session};
use crate::{builder_protocol, progress, PipelineError};

/// Label on the volumes `cargo xtask dev` keeps between sessions (the app's data folder, the services' data); its
/// value is the project. `cargo xtask clean --dev` removes what carries it.
pub const DEV_DATA_LABEL: &str = "dev.dockyard.dev-data";
/// Label on a running dev session's network; its value is the project. A one-off `cargo xtask dev -- ...` joins
/// the network that carries it instead of starting the services a second time on the same data.
pub const DEV_SESSION_LABEL: &str = "dev.dockyard.dev-session";
/// What the dev containers and kept volumes are named for (`<project>-dev-...`).
pub(crate) const PURPOSE: &str = "dev";
/// Where the kept data volume is mounted: the same folder smoke gives the app (`[app.env]` may point there).
pub(crate) const DATA_DIR: &str = dockyard_smoke::DATA_MOUNT;
/// How many lines of a failed container's output an error keeps.
const TAIL_LINES: usize = 40;

/// The labels of the volumes a dev session keeps.
pub(crate) fn kept_labels(project: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PROJECT_LABEL.to_owned(), project.to_owned()),
        (DEV_DATA_LABEL.to_owned(), project.to_owned()),
    ])
}

/// Makes sure the dependencies volume of the builder image and the current locked set is complete: a container of
/// the builder image runs the builder script up to the dependencies (the production and test sets in one venv),
/// which returns at once when the volume already holds them. Returns the volume's name.
pub(crate) async fn ensure_dependencies(
    session: &Session,
    builder_id: &str,
) -> Result<String, PipelineError> {
    let prepared = &session.prepared;
    let config = &prepared.config;
    let volume = ensure_cache_volumes(session, builder_id, Purpose::Export).await?;
    let key = builder_protocol::dependencies_key(
        builder_id,
        &prepared.locked.sha256,
        &prepared.platform_wheel_machines(),
    );
    let mut env = builder_environment(prepared, &key, session.force)?;
    env.push(builder_protocol::dependencies_only_environment());
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-dev-dependencies-{}",
            config.project.name, session.run_id
        )),
        image: builder_id.to_owned(),
        env,
        labels: session.run_labels(),
        volumes: cache_mounts(config, &volume),
        ..ContainerSpec::default()
    };
    let engine = &session.engine;
    let container = engine.create_container(&spec).await?;
    let pack_options = PackOptions::default();
    upload_locked_set(session, &container, &pack_options).await?;
    if let Some(bundle) = ca_bundle(config) {
        upload_ca_bundle(engine, &container, &bundle, &pack_options).await?;
    }
    engine.start_container(&container).await?;
    let mut output = BuilderOutput::default();
    engine
        .follow_logs(&container, &mut |line: LogLine| {
            if output.take(line.text()).is_none() {
                progress::output("dependencies", line.text());
            }
        })
        .await?;
    let exit_code = engine.wait_container(&container).await?;
    engine.remove_container(&container).await?;
    if exit_code != 0 {
        return Err(output.failure(exit_code));
    }
    Ok(volume)
}

/// Keeps the last [`TAIL_LINES`] lines.
pub(crate) fn keep_tail(tail: &mut Vec<String>, line: &str) {
    tail.push(line.to_owned());
    if tail.len() > TAIL_LINES {
        tail.remove(0);
    }
}

/// The dev containers' environment: `[app.env]`, the services' variables, `[dev.env]` (each later one wins), the
/// settings, a throwaway secret key for the session (and one per `[app] secrets`), and the dependencies venv.
pub(crate) fn dev_environment(
    session: &Session,
    services_env: &[String],
) -> Result<Vec<String>, PipelineError> {
    let config = &session.prepared.config;
    let venv = format!("{}/venv", builder_protocol::DEPENDENCIES_CACHE_DIR);
    let mut env = vec![
        format!("DJANGO_SETTINGS_MODULE={}", config.app.settings_module),
        format!("DJANGO_SECRET_KEY={}", throwaway_secret()?),
        format!("VIRTUAL_ENV={venv}"),
        format!("PATH={venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        // The source is root's in the container: the dev user writes no bytecode there, and needs a home.
        "PYTHONDONTWRITEBYTECODE=1".to_owned(),
        "PYTHONUNBUFFERED=1".to_owned(),
        "HOME=/tmp".to_owned(),
    ];
    for name in &config.app.secrets {
        env.push(format!("{name}={}", throwaway_secret()?));
    }
    env.extend(
        config
            .app
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}")),
    );
    env.extend(services_env.iter().cloned());
    env.extend(
        config
            .dev
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}")),
    );
    Ok(env)
}

/// What a dev container of the builder image needs besides its role and command.
pub(crate) struct DevContainers {
    pub(crate) builder_id: String,
    pub(crate) network: String,
    pub(crate) env: Vec<String>,
    pub(crate) dependencies_volume: String,
    pub(crate) data_volume: String,
    pub(crate) user: HostUser,
}

impl DevContainers {
    /// A container of the builder image for `role` running `cmd` as the host user in the source folder, on the
    /// session's network, with the dependencies volume and the kept data volume.
    pub(crate) fn spec(&self, session: &Session, role: &str, cmd: Vec<String>) -> ContainerSpec {
        let config = &session.prepared.config;
        ContainerSpec {
            name: Some(format!(
                "{}-dev-{role}-{}",
                config.project.name, session.run_id
            )),
            image: self.builder_id.clone(),
            // The builder image's entrypoint is the builder script; dev containers run their command alone.
            entrypoint: Some(Vec::new()),
            cmd,
            env: self.env.clone(),
            user: Some(self.user.engine_user()),
            working_dir: Some(builder_protocol::SOURCE_DIR.to_owned()),
            labels: session.run_labels(),
            volumes: vec![
                VolumeMount {
                    volume: self.dependencies_volume.clone(),
                    target: builder_protocol::DEPENDENCIES_CACHE_DIR.to_owned(),
                },
                VolumeMount {
                    volume: self.data_volume.clone(),
                    target: DATA_DIR.to_owned(),
                },
            ],
            network: Some(self.network.clone()),
            ..ContainerSpec::default()
        }
    }

    /// Creates the container `spec` describes and uploads what it starts with: the launcher and the folders the
    /// dev user owns, the source (the tarball at `source`), and the `[assets]` output of the Node build.
    pub(crate) async fn create(
        &self,
        session: &Session,
        spec: &ContainerSpec,
        source: &Path,
    ) -> Result<String, PipelineError> {
        let engine = &session.engine;
        let container = engine.create_container(spec).await?;
        let setup = dockyard_dev::setup_tar(&[builder_protocol::SOURCE_DIR, DATA_DIR], self.user)
            .map_err(|source| PipelineError::Io {
            operation: "writing the dev container's setup",
            path: std::path::PathBuf::from(builder_protocol::SOURCE_DIR),
            source,
        })?;
        engine.upload_tar_bytes(&container, "/", setup).await?;
        engine
            .upload_tar_file(&container, builder_protocol::SOURCE_DIR, source)
            .await?;
        let assets = session.assets_output()?;
        if matches!(
            session.prepared.config.assets.as_ref().map(|a| a.runs_in),
            Some(dockyard_config::AssetsRunsIn::Node)
        ) {
            crate::run::builder_container::upload_assets(
                engine,
                &container,
                &session.prepared,
                assets.as_ref(),
                &PackOptions::default(),
            )
            .await?;
        }
        Ok(container)
    }
}
