//! The export step: the builder container receives the planned source through the API, builds wheels, runs the tests
//! and `collectstatic`, and what it leaves in its out folder is downloaded, unpacked safely and re-packed
//! deterministically as the production image's build context.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use dockyard_config::AssetsRunsIn;
use dockyard_context::PackOptions;
use dockyard_engine::{ContainerSpec, LogLine, VolumeMount, PROJECT_LABEL};

use super::{blocking, created_work_dir, throwaway_secret, Session, CACHE_LABEL, CA_BUNDLE_ENV};
use crate::builder_protocol;
use crate::decide::{decide, Action, Evidence};
use crate::plan::Prepared;
use crate::progress;
use crate::state::ExportRecord;
use crate::PipelineError;

/// Runs the builder container and exports what it made as the deterministic context tarball, unless the
/// tarball on disk already comes from the same inputs.
pub async fn export(session: &mut Session) -> Result<ExportRecord, PipelineError> {
    let step = "export";
    let started = Instant::now();
    let builder = session.builder_image()?;
    let assets = session.assets_output()?;
    let inputs = session.prepared.export_inputs(
        &builder.inputs.digest(),
        assets.as_ref().map(|record| record.sha256.as_str()),
    );
    let context_path = session.prepared.paths.context_tarball.clone();
    // The evidence is the tarball on disk, trusted only when its bytes still hash to what the record says.
    let record = session.state.export.clone();
    let on_disk = match &record {
        Some(record) => {
            let (path, expected) = (context_path.clone(), record.sha256.clone());
            blocking("hashing", context_path.clone(), move || {
                Ok(dockyard_context::sha256_file(&path).ok() == Some(expected))
            })
            .await?
        }
        None => false,
    };
    let recorded_digest = record.as_ref().map(|record| record.inputs.digest());
    let evidence = match (&record, &recorded_digest) {
        (Some(record), Some(digest)) if on_disk => Evidence::Earlier {
            digest,
            inputs: Some(&record.inputs),
        },
        _ => Evidence::Nothing,
    };
    let decision = decide(&inputs, evidence, session.force);
    if decision.action == Action::Cached {
        if let Some(record) = record {
            progress::done(
                step,
                started,
                &format!(
                    "skipped: {} has the same inputs (sha256 {})",
                    context_path.display(),
                    &record.sha256[..12]
                ),
            );
            return Ok(record);
        }
    }
    progress::step(
        step,
        &format!("running the builder container ({})", decision.reason),
    );

    let prepared = &session.prepared;
    let config = &prepared.config;
    let folder = created_work_dir(session)?;
    let pack_options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    let planned = prepared.clone();
    let source = blocking(
        "packing",
        prepared.paths.source_tarball.clone(),
        move || write_planned_source(&planned),
    )
    .await?;
    progress::detail(&format!(
        "source: {} files, {} bytes, sha256 {} (as planned)",
        source.n_files,
        source.n_bytes,
        &source.sha256[..12]
    ));

    let dependencies_volume = ensure_cache_volumes(session, &builder.id).await?;
    let dependencies_key = builder_protocol::dependencies_key(&builder.id, &prepared.locked.sha256);
    let ca_bundle = ca_bundle(config);
    let mut env = builder_environment(prepared, &dependencies_key, session.force)?;
    // The tests run against the services on a private network of their own (which still reaches the package index).
    let mut services = start_services(session).await?;
    let network = services.as_ref().map(|(network, started)| {
        env.extend(started.env());
        network.clone()
    });
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-builder-{}",
            config.project.name, session.run_id
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
    upload_assets(
        &engine,
        &container,
        prepared,
        assets.as_ref(),
        &pack_options,
    )
    .await?;
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
    // The production image's dependencies layer is made beside the tests once the builder has made a new
    // dependencies volume: it announces the wheels step only then, and the install step once every wheel is there.
    let (past_dependencies, dependencies_made) = tokio::sync::oneshot::channel::<()>();
    let (stop_beside, builder_failed) = tokio::sync::oneshot::channel::<()>();
    let mut output = BuilderOutput::default();
    let builder_run = async {
        let mut past_dependencies = Some(past_dependencies);
        let mut made_anew = false;
        let followed = engine
            .follow_logs(&container, &mut |line: LogLine| {
                let text = line.text();
                match output.take(text) {
                    Some(step) => {
                        made_anew |= step == builder_protocol::WHEELS_STEP;
                        if made_anew && step == builder_protocol::INSTALL_STEP {
                            if let Some(signal) = past_dependencies.take() {
                                let _ = signal.send(());
                            }
                        }
                        progress::detail(&format!("builder step: {step}"));
                    }
                    None => progress::output("builder", text),
                }
            })
            .await;
        drop(past_dependencies);
        followed?;
        let exit_code = engine.wait_container(&container).await?;
        if let Some((_, started)) = services.take() {
            started
                .stop(&engine)
                .await
                .map_err(PipelineError::BuilderServices)?;
        }
        if exit_code != 0 {
            return Err(std::mem::take(&mut output).failure(exit_code));
        }
        let downloaded = download_context(
            &engine,
            &container,
            &folder,
            &context_path,
            pack_options.mtime,
        )
        .await?;
        forget_other_dependencies(&engine, &config.project.name, &dependencies_volume).await;
        Ok(downloaded)
    };
    let builder_run = async {
        let result = builder_run.await;
        if result.is_err() {
            // A failed builder stops the layer beside it (its container is the run's, removed at the end).
            let _ = stop_beside.send(());
        }
        result
    };
    let beside = async {
        if dependencies_made.await.is_err() {
            return;
        }
        tokio::select! {
            made = super::assemble::dependencies_layer_beside(session, &dependencies_volume) => {
                if let Err(error) = made {
                    progress::warning(&format!(
                        "the dependencies layer beside the tests: {error}; the production image step makes it again"
                    ));
                }
            }
            Ok(()) = builder_failed => {}
        }
    };
    let (downloaded, ()) = tokio::join!(builder_run, beside);
    let (n_bytes, summary, static_manifest_sha256, static_sha256) = downloaded?;
    progress::done(
        step,
        started,
        &format!(
            "{}: {} files, {} MiB downloaded, sha256 {}",
            context_path.display(),
            summary.n_files,
            n_bytes / (1024 * 1024),
            summary.sha256
        ),
    );
    let record = ExportRecord {
        path: context_path,
        sha256: summary.sha256,
        static_manifest_sha256,
        static_sha256,
        inputs,
    };
    session.state.export = Some(record.clone());
    session.save_state()?;
    Ok(record)
}

/// What the export downloaded: its size, the context tarball's summary, the static manifest's and files' digests.
type Downloaded = (u64, dockyard_context::PackSummary, Option<String>, String);

/// Downloads the builder's out folder, unpacks it safely into `folder` and re-packs it deterministically as the
/// context tarball at `context_path`; a refused export (a hostile or broken builder) leaves nothing half-extracted.
async fn download_context(
    engine: &dockyard_engine::Engine,
    container: &str,
    folder: &std::path::Path,
    context_path: &std::path::Path,
    mtime: u64,
) -> Result<Downloaded, PipelineError> {
    progress::detail(&format!(
        "downloading {} from the builder container",
        builder_protocol::OUT_DIR
    ));
    let download = folder.join("out.tar");
    let n_bytes = engine
        .download_to_file(
            container,
            &format!("{}/.", builder_protocol::OUT_DIR),
            &download,
        )
        .await?;
    engine.remove_container(container).await?;
    let unpacked = folder.join("out");
    std::fs::create_dir_all(&unpacked).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: unpacked.clone(),
        source,
    })?;
    let (download_path, unpacked_path, context) = (
        download.clone(),
        unpacked.clone(),
        context_path.to_path_buf(),
    );
    let unpack_and_repack = blocking("packing", context_path.to_path_buf(), move || {
        let file = std::fs::File::open(&download_path).map_err(|source| PipelineError::Io {
            operation: "opening",
            path: download_path.clone(),
            source,
        })?;
        dockyard_context::unpack_archive_safely(std::io::BufReader::new(file), &unpacked_path)?;
        let options = PackOptions { mtime };
        Ok(dockyard_context::write_tarball_file(&context, |out| {
            dockyard_context::pack_tree(&unpacked_path, &options, out)
        })?)
    })
    .await;
    let summary = match unpack_and_repack {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&unpacked);
            let _ = std::fs::remove_file(&download);
            return Err(error);
        }
    };
    let manifest = unpacked.join("staticfiles").join("staticfiles.json");
    let static_manifest_sha256 = manifest
        .is_file()
        .then(|| dockyard_context::sha256_file(&manifest))
        .transpose()?;
    let static_sha256 = dockyard_context::tree_sha256(&unpacked.join("staticfiles"))?;
    // Only what the export wrote: the layer beside the tests works in the same run folder.
    let _ = std::fs::remove_dir_all(&unpacked);
    let _ = std::fs::remove_file(&download);
    Ok((n_bytes, summary, static_manifest_sha256, static_sha256))
}

/// The pip cache volume and the dependencies volume of `builder_id` and the locked set, made when missing (labelled
/// with the project and what they cache). Returns the dependencies volume's name.
pub(crate) async fn ensure_cache_volumes(
    session: &Session,
    builder_id: &str,
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
    let dependencies_key =
        builder_protocol::dependencies_key(builder_id, &session.prepared.locked.sha256);
    let dependencies_volume = dependencies_volume(&config.project.name, &dependencies_key);
    cache_labels.insert(CACHE_LABEL.to_owned(), DEPENDENCIES_CACHE.to_owned());
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

/// Uploads the locked set (the dependency files the builder installs from) into the builder's dependencies folder.
/// The value of the cache label on dependencies volumes.
const DEPENDENCIES_CACHE: &str = "dependencies";

/// The dependencies volume of `project` for `key`.
pub(crate) fn dependencies_volume(project: &str, key: &str) -> String {
    format!("{project}-dependencies-{}", &key[..12])
}

/// Removes the project's other dependencies volumes (older locked sets); one in use by a concurrent run stays.
async fn forget_other_dependencies(engine: &dockyard_engine::Engine, project: &str, keep: &str) {
    let labels = [
        format!("{PROJECT_LABEL}={project}"),
        format!("{CACHE_LABEL}={DEPENDENCIES_CACHE}"),
    ];
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    if let Ok(mut found) = engine.find_labelled(&labels).await {
        found.containers.clear();
        found.networks.clear();
        found.volumes.retain(|volume| volume != keep);
        let _ = engine.remove_leftovers(&found).await;
    }
}

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

/// Writes the app source tarball the builder receives, and checks it is the source the plan hashed: a file edited
/// between the plan and the upload would otherwise be built under inputs that do not describe it.
pub fn write_planned_source(
    prepared: &Prepared,
) -> Result<dockyard_context::PackSummary, PipelineError> {
    let config = &prepared.config;
    let options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    std::fs::create_dir_all(&prepared.paths.target).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: prepared.paths.target.clone(),
        source,
    })?;
    let source = dockyard_context::write_tarball_file(&prepared.paths.source_tarball, |out| {
        dockyard_context::pack_source_tree(
            &config.app.path,
            &crate::plan::source_rules(config),
            &options,
            out,
        )
    })?;
    if source.sha256 != prepared.source.sha256 {
        let _ = std::fs::remove_file(&prepared.paths.source_tarball);
        return Err(PipelineError::SourceChanged {
            path: config.app.path.clone(),
            planned: prepared.source.sha256.clone(),
            found: source.sha256,
        });
    }
    Ok(source)
}

/// Starts `[services.<name>]` on a network of the run's own for the builder's tests; `None` without services. What
/// it creates carries the run's labels, so the run's cleanup removes it whatever happens.
async fn start_services(
    session: &Session,
) -> Result<Option<(String, dockyard_services::Started)>, PipelineError> {
    let config = &session.prepared.config;
    if config.services.is_empty() {
        return Ok(None);
    }
    let labels = session.run_labels();
    let network = format!("{}-build-{}", config.project.name, session.run_id);
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
    let context = dockyard_services::ServicesContext {
        engine: &session.engine,
        project: &config.project.name,
        run_id: &session.run_id,
        purpose: "build",
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
