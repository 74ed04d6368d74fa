//! The builder container: what every run of the builder script shares (the export, the tests on each other Python of
//! `[matrix]`, `cargo xtask dev`'s dependencies): its cache volumes, environment and uploads, the services its tests
//! run against, and the reading of its output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dockyard_config::{AssetsRunsIn, PythonVersion};
use dockyard_context::PackOptions;
use dockyard_engine::{ContainerSpec, Engine, VolumeMount, PROJECT_LABEL};

use super::{throwaway_secret, Session, CACHE_LABEL, CA_BUNDLE_ENV};
use crate::builder_protocol;
use crate::plan::Prepared;
use crate::progress;
use crate::state::{AssetsRecord, ImageRecord};
use crate::PipelineError;

/// What a builder container runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The export of the shipped Python: tests, collectstatic, the production image's context (and `dev`'s
    /// dependencies, which are the same).
    Export,
    /// The tests on another Python of `[matrix] python`.
    MatrixTests(PythonVersion),
}

impl Purpose {
    /// What tells its containers, networks and service containers apart from the other purposes' in one run.
    fn suffix(self) -> String {
        match self {
            Purpose::Export => String::new(),
            Purpose::MatrixTests(python) => format!("-{}", python.short_name()),
        }
    }

    /// The value of the cache label on its dependencies volumes.
    fn dependencies_cache(self) -> String {
        format!("dependencies{}", self.suffix())
    }
}

/// A started builder container and what it needs until it ends.
pub(crate) struct BuilderContainer {
    /// The engine it runs in.
    pub engine: Engine,
    /// Its id.
    pub container: String,
    /// The dependencies volume mounted in it.
    pub dependencies_volume: String,
    /// The services its tests run against, on their network; stopped by the caller once the tests ended.
    pub services: Option<(String, dockyard_services::Started)>,
}

impl BuilderContainer {
    /// Waits for the builder to end, stops its services, and fails with what `output` read when it failed.
    pub(crate) async fn finish(&mut self, output: &mut BuilderOutput) -> Result<(), PipelineError> {
        let exit_code = self.engine.wait_container(&self.container).await?;
        if let Some((_, started)) = self.services.take() {
            started
                .stop(&self.engine)
                .await
                .map_err(PipelineError::BuilderServices)?;
        }
        if exit_code != 0 {
            return Err(std::mem::take(output).failure(exit_code));
        }
        Ok(())
    }
}

/// Creates the builder container of `builder` for `purpose`, with the services started on a network of the run's own,
/// uploads the planned source (already written by [`super::write_planned_source`]), the asset outputs, the kit, the
/// locked set and the CA bundle, and starts it.
pub(crate) async fn start_builder(
    session: &Session,
    builder: &ImageRecord,
    assets: Option<&AssetsRecord>,
    purpose: Purpose,
) -> Result<BuilderContainer, PipelineError> {
    let prepared = &session.prepared;
    let config = &prepared.config;
    let pack_options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    let dependencies_volume = ensure_cache_volumes(session, &builder.id, purpose).await?;
    let dependencies_key = builder_protocol::dependencies_key(
        &builder.id,
        &prepared.locked.sha256,
        &prepared.platform_wheel_machines(),
    );
    let ca_bundle = ca_bundle(config);
    let mut env = builder_environment(prepared, &dependencies_key, session.force)?;
    if let Purpose::MatrixTests(_) = purpose {
        env.push(builder_protocol::tests_only_environment());
    }
    // The tests run against the services on a private network of their own (which still reaches the package index).
    let services = start_services(session, purpose).await?;
    let network = services.as_ref().map(|(network, started)| {
        env.extend(started.env());
        network.clone()
    });
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-builder{}-{}",
            config.project.name,
            purpose.suffix(),
            session.run_id
        )),
        image: builder.id.clone(),
        cmd: config.app.test_command.clone(),
        env,
        labels: session.run_labels(),
        volumes: cache_mounts(config, &dependencies_volume),
        network,
        ..ContainerSpec::default()
    };
    let engine = session.engine.clone();
    let container = engine.create_container(&spec).await?;
    engine
        .upload_tar_file(
            &container,
            builder_protocol::SOURCE_DIR,
            &prepared.paths.source_tarball,
        )
        .await?;
    upload_assets(&engine, &container, prepared, assets, &pack_options).await?;
    let mut kit = Vec::new();
    dockyard_context::pack_members(&prepared.kit, &pack_options, &mut kit)?;
    engine
        .upload_tar_bytes(&container, builder_protocol::KIT_DIR, kit)
        .await?;
    upload_locked_set(session, &container, &pack_options).await?;
    if let Some(ca_bundle) = &ca_bundle {
        upload_ca_bundle(&engine, &container, ca_bundle, &pack_options).await?;
    }
    engine.start_container(&container).await?;
    Ok(BuilderContainer {
        engine,
        container,
        dependencies_volume,
        services,
    })
}

/// Starts `[services.<name>]` on a network of the run's own for the builder's tests of `purpose`; `None` without
/// services. What it creates carries the run's labels, so the run's cleanup removes it whatever happens.
async fn start_services(
    session: &Session,
    purpose: Purpose,
) -> Result<Option<(String, dockyard_services::Started)>, PipelineError> {
    let config = &session.prepared.config;
    if config.services.is_empty() {
        return Ok(None);
    }
    let labels = session.run_labels();
    let network = format!(
        "{}-build{}-{}",
        config.project.name,
        purpose.suffix(),
        session.run_id
    );
    session.engine.create_network(&network, &labels).await?;
    let images = session.service_images()?;
    let services: Vec<dockyard_services::ServiceImage<'_>> = config
        .services
        .values()
        .map(|service| dockyard_services::ServiceImage {
            service,
            image: images[&service.name].clone(),
        })
        .collect();
    progress::detail(&format!(
        "starting {} for the tests on network {network}",
        config
            .services
            .values()
            .map(|service| format!("{} ({} {})", service.name, service.kind, service.version))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let on_progress = |line: &str| progress::detail(line);
    let purpose_name = format!("build{}", purpose.suffix());
    let context = dockyard_services::ServicesContext {
        engine: &session.engine,
        project: &config.project.name,
        run_id: &session.run_id,
        purpose: &purpose_name,
        network: &network,
        labels: &labels,
        on_progress: &on_progress,
        data: dockyard_services::DataVolumes::PerRun,
    };
    let started = dockyard_services::start(&context, &services)
        .await
        .map_err(PipelineError::BuilderServices)?;
    for (service, ready) in started.ready_times() {
        progress::detail(&format!(
            "service {service} ready in {} ms",
            ready.as_millis()
        ));
    }
    Ok(Some((network, started)))
}

/// The pip cache volume and the dependencies volume of `builder_id` and the locked set, made when missing (labelled
/// with the project and what they cache). Returns the dependencies volume's name.
pub(crate) async fn ensure_cache_volumes(
    session: &Session,
    builder_id: &str,
    purpose: Purpose,
) -> Result<String, PipelineError> {
    let config = &session.prepared.config;
    let mut cache_labels =
        BTreeMap::from([(PROJECT_LABEL.to_owned(), config.project.name.clone())]);
    cache_labels.insert(CACHE_LABEL.to_owned(), "pip".to_owned());
    session
        .engine
        .ensure_volume(&config.builder.pip_cache_volume, &cache_labels)
        .await?;
    // The dependencies volume: the tests' venv and the wheels, made by the first export of this locked set and
    // builder, reused by the next ones (a source edit never runs pip).
    let dependencies_key = builder_protocol::dependencies_key(
        builder_id,
        &session.prepared.locked.sha256,
        &session.prepared.platform_wheel_machines(),
    );
    let dependencies_volume = dependencies_volume(&config.project.name, &dependencies_key);
    cache_labels.insert(CACHE_LABEL.to_owned(), purpose.dependencies_cache());
    session
        .engine
        .ensure_volume(&dependencies_volume, &cache_labels)
        .await?;
    Ok(dependencies_volume)
}

/// What the builder script's output says as it streams: the step it is in, the packages whose download did not match
/// the lock's hashes, and its last lines.
#[derive(Debug)]
pub(crate) struct BuilderOutput {
    step: String,
    mismatched: Vec<String>,
    tail: Vec<String>,
}

impl Default for BuilderOutput {
    fn default() -> Self {
        BuilderOutput {
            step: "start".to_owned(),
            mismatched: Vec::new(),
            tail: Vec::new(),
        }
    }
}

impl BuilderOutput {
    /// How many lines of the builder's output an error keeps.
    const TAIL_LINES: usize = 40;

    /// Takes one line of output; returns the step it announces, if it is a step marker.
    pub(crate) fn take(&mut self, text: &str) -> Option<String> {
        self.tail.push(text.to_owned());
        if self.tail.len() > Self::TAIL_LINES {
            self.tail.remove(0);
        }
        if let Some(package) = builder_protocol::hash_mismatch(text) {
            self.mismatched.push(package.to_owned());
        }
        let step = builder_protocol::announced_step(text)?;
        self.step = step.to_owned();
        Some(self.step.clone())
    }

    /// What the builder's non-zero `exit_code` means: a download not matching the lock (naming the packages), else
    /// the step it was in failed.
    pub(crate) fn failure(self, exit_code: i64) -> PipelineError {
        if self.mismatched.is_empty() {
            PipelineError::BuilderStepFailed {
                step: self.step,
                exit_code,
                tail: self.tail,
            }
        } else {
            PipelineError::HashMismatch {
                packages: self.mismatched,
                tail: self.tail,
            }
        }
    }
}

/// The builder container's cache volumes: the pip cache and the dependencies volume `dependencies_volume`.
pub(crate) fn cache_mounts(
    config: &dockyard_config::DeployConfig,
    dependencies_volume: &str,
) -> Vec<VolumeMount> {
    vec![
        VolumeMount {
            volume: config.builder.pip_cache_volume.clone(),
            target: builder_protocol::PIP_CACHE_DIR.to_owned(),
        },
        VolumeMount {
            volume: dependencies_volume.to_owned(),
            target: builder_protocol::DEPENDENCIES_CACHE_DIR.to_owned(),
        },
    ]
}

/// The CA bundle to upload into the builder: `DOCKYARD_CA_BUNDLE`, else `[builder] ca_bundle`.
pub(crate) fn ca_bundle(config: &dockyard_config::DeployConfig) -> Option<PathBuf> {
    std::env::var_os(CA_BUNDLE_ENV)
        .map(PathBuf::from)
        .or_else(|| config.builder.ca_bundle.clone())
}

/// The builder container's environment: the settings, a throwaway secret key (and one per `[app] secrets`), the
/// protocol, the dependencies key, the locked set, `[app.env]` then `[builder.env]`, the CA variables when a bundle
/// is uploaded, and `[assets]`.
pub(crate) fn builder_environment(
    prepared: &Prepared,
    dependencies_key: &str,
    force: bool,
) -> Result<Vec<String>, PipelineError> {
    let config = &prepared.config;
    let mut env = vec![
        format!("DOCKYARD_STATIC_ROOT={}", config.app.static_root),
        format!(
            "DJANGO_SETTINGS_MODULE={}",
            config
                .builder
                .settings_module
                .as_ref()
                .unwrap_or(&config.app.settings_module)
        ),
        format!("DJANGO_SECRET_KEY={}", throwaway_secret()?),
        format!(
            "SOURCE_DATE_EPOCH={}",
            prepared.provenance.source_date_epoch
        ),
    ];
    for name in &config.app.secrets {
        env.push(format!("{name}={}", throwaway_secret()?));
    }
    env.extend(builder_protocol::environment());
    env.extend(builder_protocol::dependencies_environment(
        dependencies_key,
        force,
    ));
    env.extend(prepared.locked.environment());
    env.extend(builder_protocol::platform_wheels_environment(
        &prepared.platform_wheel_machines(),
    ));
    // [builder.env] after [app.env]: the engine keeps the last value of a name, so the builder's wins.
    env.extend(
        config
            .app
            .env
            .iter()
            .chain(&config.builder.env)
            .map(|(key, value)| format!("{key}={value}")),
    );
    if config.builder.collectstatic_before_tests {
        env.push("DOCKYARD_COLLECTSTATIC_FIRST=1".to_owned());
    }
    if ca_bundle(config).is_some() {
        env.extend(builder_protocol::ca_environment());
    }
    env.extend(assets_environment(prepared));
    Ok(env)
}

/// The CA bundle at `ca_bundle` as the member of an upload to `/` that puts it where `ca_environment` points
/// (`etc/dockyard/ca.pem`): for containers of a base, which has no such folder yet.
pub(crate) fn ca_member(
    ca_bundle: &std::path::Path,
) -> Result<dockyard_context::Member, PipelineError> {
    let bytes = std::fs::read(ca_bundle).map_err(|source| PipelineError::Io {
        operation: "reading the CA bundle",
        path: ca_bundle.to_path_buf(),
        source,
    })?;
    Ok(dockyard_context::Member {
        path: builder_protocol::ca_path()
            .trim_start_matches('/')
            .to_owned(),
        bytes,
        executable: false,
    })
}

/// Uploads the CA bundle into the builder container's CA folder.
pub(crate) async fn upload_ca_bundle(
    engine: &dockyard_engine::Engine,
    container: &str,
    ca_bundle: &std::path::Path,
    pack_options: &PackOptions,
) -> Result<(), PipelineError> {
    let bytes = std::fs::read(ca_bundle).map_err(|source| PipelineError::Io {
        operation: "reading the CA bundle",
        path: ca_bundle.to_path_buf(),
        source,
    })?;
    let mut tar = Vec::new();
    let member = dockyard_context::Member {
        path: builder_protocol::CA_FILE.to_owned(),
        bytes,
        executable: false,
    };
    dockyard_context::pack_members(&[member], pack_options, &mut tar)?;
    engine
        .upload_tar_bytes(container, builder_protocol::CA_DIR, tar)
        .await?;
    progress::detail(&format!(
        "CA bundle {} uploaded into the builder container only",
        ca_bundle.display()
    ));
    Ok(())
}

/// The dependencies volume of `project` for `key`.
pub(crate) fn dependencies_volume(project: &str, key: &str) -> String {
    format!("{project}-dependencies-{}", &key[..12])
}

/// Removes the project's other dependencies volumes of `purpose` (older locked sets); one in use by a concurrent run
/// stays, and so do those of the other Pythons of the matrix.
pub(crate) async fn forget_other_dependencies(
    engine: &dockyard_engine::Engine,
    project: &str,
    purpose: Purpose,
    keep: &str,
) {
    let labels = [
        format!("{PROJECT_LABEL}={project}"),
        format!("{CACHE_LABEL}={}", purpose.dependencies_cache()),
    ];
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    if let Ok(mut found) = engine.find_labelled(&labels).await {
        found.containers.clear();
        found.networks.clear();
        found.volumes.retain(|volume| volume != keep);
        let _ = engine.remove_leftovers(&found).await;
    }
}

/// Uploads the locked set (the dependency files the builder installs from) into the builder's dependencies folder.
pub(crate) async fn upload_locked_set(
    session: &Session,
    container: &str,
    pack_options: &PackOptions,
) -> Result<(), PipelineError> {
    let locked = &session.prepared.locked;
    let mut tar = Vec::new();
    dockyard_context::pack_members(&locked.files, pack_options, &mut tar)?;
    session
        .engine
        .upload_tar_bytes(container, builder_protocol::DEPS_DIR, tar)
        .await?;
    progress::detail(&format!("dependencies: {}", locked.summary));
    Ok(())
}

/// The builder's `[assets]` environment: the asset sources to leave out of the production image's app copy and,
/// with `runs_in = "builder"`, the script to run after the dependencies are installed.
fn assets_environment(prepared: &Prepared) -> Vec<String> {
    let Some(assets) = &prepared.config.assets else {
        return Vec::new();
    };
    let prune = crate::assets::app_prune_paths(&prepared.config, assets)
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let lines = |paths: &mut dyn Iterator<Item = &std::path::Path>| {
        paths
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let outside = lines(&mut assets.outputs_outside());
    let mut env = vec![
        format!("DOCKYARD_ASSETS_PRUNE={prune}"),
        format!("DOCKYARD_ASSETS_OUTSIDE={outside}"),
    ];
    if assets.runs_in == AssetsRunsIn::Builder {
        // Built after the app was copied: its outputs inside the app folder are copied again once built.
        let in_app = lines(&mut assets.outputs_in_app());
        env.push(format!("DOCKYARD_ASSETS_IN_APP={in_app}"));
        env.push(format!(
            "DOCKYARD_ASSETS_SCRIPT={}/{}",
            crate::assets::SCRIPT_DIR,
            crate::assets::SCRIPT_FILE
        ));
    }
    env
}

/// Hands `[assets]` to the builder before it starts: the Node build's output folders at their places (the tarball is
/// rooted at `/`: `src/…` for those inside the app folder, their container paths for the others), or
/// with `runs_in = "builder"` the script the builder runs after installing the dependencies.
pub(crate) async fn upload_assets(
    engine: &dockyard_engine::Engine,
    container: &str,
    prepared: &Prepared,
    output: Option<&crate::state::AssetsRecord>,
    pack_options: &PackOptions,
) -> Result<(), PipelineError> {
    let Some(assets) = &prepared.config.assets else {
        return Ok(());
    };
    match assets.runs_in {
        AssetsRunsIn::Node => {
            if let Some(output) = output {
                engine.upload_tar_file(container, "/", &output.path).await?;
                progress::detail(&format!(
                    "assets output {} uploaded into {}",
                    output.path.display(),
                    builder_protocol::SOURCE_DIR
                ));
            }
        }
        AssetsRunsIn::Builder => {
            let folder = std::path::Path::new(builder_protocol::SOURCE_DIR).join(
                assets
                    .path
                    .strip_prefix(
                        prepared
                            .config
                            .app
                            .path
                            .strip_prefix(&prepared.config.root)
                            .unwrap_or(std::path::Path::new("")),
                    )
                    .unwrap_or(&assets.path),
            );
            // Announced as `assets install` and `assets build`, apart from the builder's own pip install.
            let marker = format!("{}assets ", builder_protocol::STEP_MARKER);
            let script = crate::assets::script(assets, &folder.to_string_lossy(), &marker, None);
            let member = dockyard_context::Member {
                path: crate::assets::SCRIPT_FILE.to_owned(),
                bytes: script.into_bytes(),
                executable: true,
            };
            let mut tar = Vec::new();
            dockyard_context::pack_members(&[member], pack_options, &mut tar)?;
            engine
                .upload_tar_bytes(container, crate::assets::SCRIPT_DIR, tar)
                .await?;
        }
    }
    Ok(())
}
