//! The run: base images, builder image, export through a builder container, production image.
//!
//! Every container, network and volume a run creates carries the run label; [`with_cleanup`] removes them all
//! whether the run succeeds, fails or is interrupted with Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dockyard_context::PackOptions;
use dockyard_engine::{
    BuildSpec, ContainerSpec, Engine, LogLine, VolumeMount, PROJECT_LABEL, RUN_LABEL,
};

use crate::plan::{short, Prepared, INPUTS_LABEL};
use crate::progress;
use crate::state::{BaseRecord, ExportRecord, ImageRecord, State};
use crate::PipelineError;

/// Environment variable that overrides `builder.ca_bundle`.
pub const CA_BUNDLE_ENV: &str = "DOCKYARD_CA_BUNDLE";
/// Label on the pip cache volume, which outlives runs on purpose.
pub const CACHE_LABEL: &str = "dev.dockyard.cache";

/// One run of the pipeline against one engine.
pub struct Session {
    /// The engine.
    pub engine: Engine,
    /// Everything computed before the engine was involved.
    pub prepared: Prepared,
    /// The state file as loaded, updated as steps finish.
    pub state: State,
    /// Unique id of this run, the value of the run label.
    pub run_id: String,
    /// Rebuild even when inputs are unchanged.
    pub force: bool,
}

/// A fresh run id: time and process id, unique enough for concurrent runs on one engine.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{:x}-{}", nanos & 0xffff_ffff_ffff, std::process::id())
}

impl Session {
    /// Labels for everything this run creates.
    pub fn run_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (RUN_LABEL.to_owned(), self.run_id.clone()),
            (
                PROJECT_LABEL.to_owned(),
                self.prepared.config.project.name.clone(),
            ),
        ])
    }

    /// The exported context the last export recorded; an error naming it when there is none on disk.
    pub fn exported_context(&self) -> Result<ExportRecord, PipelineError> {
        let missing = |path| PipelineError::MissingArtifact {
            what: "the exported build context",
            path,
        };
        let export = self
            .state
            .export
            .clone()
            .ok_or_else(|| missing(self.prepared.paths.context_tarball.clone()))?;
        if !export.path.is_file() {
            return Err(missing(export.path));
        }
        Ok(export)
    }

    /// The production image the last build recorded; an error naming it when there is none.
    pub fn production_image(&self) -> Result<ImageRecord, PipelineError> {
        self.state
            .production
            .clone()
            .ok_or_else(|| PipelineError::MissingArtifact {
                what: "the production image (run `cargo xtask build`)",
                path: PathBuf::from(&self.prepared.production_tag),
            })
    }

    /// The id of a base image as the base step recorded it.
    pub fn base_id(&self, name: &str) -> Option<String> {
        self.state.bases.get(name).map(|record| record.id.clone())
    }

    fn save_state(&self) -> Result<(), PipelineError> {
        crate::state::save(&self.prepared.paths.state, &self.state)
    }
}

/// Runs `work`, then removes everything labelled with the session's run id, also when `work` fails or Ctrl-C arrives.
pub async fn with_cleanup<T>(
    session: &mut Session,
    work: impl AsyncFnOnce(&mut Session) -> Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let engine = session.engine.clone();
    let run_id = session.run_id.clone();
    let work_dir = work_dir(session);
    let res = tokio::select! {
        res = work(session) => res,
        _ = tokio::signal::ctrl_c() => {
            progress::warning("interrupted: cleaning up");
            Err(PipelineError::Interrupted)
        }
    };
    let label = format!("{RUN_LABEL}={run_id}");
    // A create request in flight when Ctrl-C arrived may land after the first sweep: sweep twice.
    for attempt in 0..2 {
        if attempt == 1 {
            if res.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        match engine.find_labelled(&[&label]).await {
            Ok(leftovers) if !leftovers.is_empty() => {
                for failure in engine.remove_leftovers(&leftovers).await {
                    progress::warning(&format!("cleanup: {failure}"));
                }
            }
            Ok(_) => {}
            Err(error) => progress::warning(&format!("cleanup: {error}")),
        }
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    res
}

fn work_dir(session: &Session) -> PathBuf {
    session
        .prepared
        .paths
        .target
        .join(format!("work-{}", session.run_id))
}

/// Makes sure every base image named in deploy.toml is in the engine: present, pulled, or bootstrapped.
pub async fn ensure_bases(session: &mut Session) -> Result<(), PipelineError> {
    let config = session.prepared.config.clone();
    for (name, base) in &config.bases {
        let step = format!("base {name}");
        let started = Instant::now();
        let reference = base.image.to_string();
        let recipe = base.bootstrap.as_ref().map(|recipe| {
            dockyard_base::recipe_digest(
                recipe,
                session.prepared.provenance.explicit_source_date_epoch,
            )
        });
        let present = session.engine.image(&reference).await?;
        let stale = |image: &dockyard_engine::ImageInfo| {
            recipe.is_some()
                && image
                    .labels
                    .get(dockyard_base::RECIPE_LABEL)
                    .is_some_and(|label| Some(label) != recipe.as_ref())
        };
        let record = match present {
            Some(image) if !stale(&image) => {
                progress::done(
                    &step,
                    started,
                    &format!("{reference} present, {}", short(&image.id)),
                );
                let origin = session
                    .state
                    .bases
                    .get(name)
                    .filter(|record| record.id == image.id)
                    .map_or("present".to_owned(), |record| record.origin.clone());
                BaseRecord {
                    image: reference.clone(),
                    id: image.id,
                    recipe: recipe.clone(),
                    origin,
                }
            }
            present => {
                if present.is_some() {
                    progress::step(
                        &step,
                        &format!(
                            "{reference} was bootstrapped from another recipe: bootstrapping again"
                        ),
                    );
                }
                let pulled = if base.pull && present.is_none() {
                    progress::step(&step, &format!("{reference} not present: pulling"));
                    match session
                        .engine
                        .pull_image(&reference, &mut |line| progress::output("pull", line))
                        .await
                    {
                        Ok(()) => None,
                        Err(error) if error.is_unreachable() => return Err(error.into()),
                        Err(error) => Some(error.to_string()),
                    }
                } else {
                    Some("pulling is off (pull = false)".to_owned())
                };
                match (pulled, &base.bootstrap) {
                    (None, _) => {
                        let image = session.engine.image(&reference).await?.ok_or_else(|| {
                            PipelineError::BaseUnavailable {
                                name: name.clone(),
                                image: reference.clone(),
                                pull_error: "the pull reported success but the image is missing"
                                    .to_owned(),
                            }
                        })?;
                        progress::done(
                            &step,
                            started,
                            &format!("pulled {reference}, {}", short(&image.id)),
                        );
                        BaseRecord {
                            image: reference.clone(),
                            id: image.id,
                            recipe: None,
                            origin: "pulled".to_owned(),
                        }
                    }
                    (Some(pull_error), None) => {
                        return Err(PipelineError::BaseUnavailable {
                            name: name.clone(),
                            image: reference,
                            pull_error,
                        });
                    }
                    (Some(pull_error), Some(bootstrap)) => {
                        progress::detail(&format!("pull failed: {pull_error}"));
                        let recipe = recipe.clone().unwrap_or_default();
                        let id =
                            bootstrap_base(session, &step, &reference, bootstrap, &recipe).await?;
                        progress::done(
                            &step,
                            started,
                            &format!("bootstrapped {reference}, {}", short(&id)),
                        );
                        BaseRecord {
                            image: reference.clone(),
                            id,
                            recipe: Some(recipe),
                            origin: "bootstrapped".to_owned(),
                        }
                    }
                }
            }
        };
        session.state.bases.insert(name.clone(), record);
        session.save_state()?;
    }
    Ok(())
}

async fn bootstrap_base(
    session: &Session,
    step: &str,
    reference: &str,
    bootstrap: &dockyard_config::Bootstrap,
    recipe_digest: &str,
) -> Result<String, PipelineError> {
    let folder = work_dir(session);
    std::fs::create_dir_all(&folder).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: folder.clone(),
        source,
    })?;
    let rootfs = folder.join(format!(
        "base-{}.tar",
        recipe_digest
            .trim_start_matches("sha256:")
            .get(..12)
            .unwrap_or("rootfs")
    ));
    progress::step(
        step,
        &format!(
            "bootstrapping {reference} with mmdebstrap ({} {}, {})",
            bootstrap.suite,
            bootstrap.variant,
            bootstrap.packages.join(" ")
        ),
    );
    let epoch = session.prepared.provenance.explicit_source_date_epoch;
    let (image, recipe, output) = (reference.to_owned(), bootstrap.clone(), rootfs.clone());
    tokio::task::spawn_blocking(move || {
        dockyard_base::bootstrap_rootfs(&image, &recipe, epoch, &output, &mut |line| {
            progress::output("mmdebstrap", line)
        })
    })
    .await
    .map_err(|error| PipelineError::Io {
        operation: "bootstrapping",
        path: rootfs.clone(),
        source: std::io::Error::other(error),
    })??;
    let size = std::fs::metadata(&rootfs).map_or(0, |metadata| metadata.len());
    progress::detail(&format!(
        "importing {} MiB root filesystem as {reference}",
        size / (1024 * 1024)
    ));
    let changes = vec![
        format!("LABEL {}={recipe_digest}", dockyard_base::RECIPE_LABEL),
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        "CMD [\"/bin/bash\"]".to_owned(),
    ];
    let id = session
        .engine
        .import_rootfs(&rootfs, reference, &changes)
        .await;
    let _ = std::fs::remove_file(&rootfs);
    Ok(id?)
}

/// Builds the builder image unless an image with the same inputs exists.
pub async fn ensure_builder_image(session: &mut Session) -> Result<ImageRecord, PipelineError> {
    let prepared = &session.prepared;
    let base_id = session.base_id(&prepared.config.builder.base);
    let inputs = prepared.builder_inputs(base_id.as_deref());
    let tag = prepared.builder_tag.clone();
    let mut labels = BTreeMap::from([
        (
            PROJECT_LABEL.to_owned(),
            prepared.config.project.name.clone(),
        ),
        ("org.opencontainers.image.title".to_owned(), tag.clone()),
    ]);
    labels.insert(INPUTS_LABEL.to_owned(), inputs.digest());
    let members = prepared.builder_context.clone();
    let context_path = prepared.paths.target.join(format!(
        "{}-builder-context.tar.gz",
        prepared.config.project.name
    ));
    let pack_options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    let make_context = async move {
        blocking("packing", context_path.clone(), move || {
            dockyard_context::write_tarball_file(&context_path, |out| {
                dockyard_context::pack_members(&members, &pack_options, out)
            })?;
            Ok(context_path)
        })
        .await
    };
    let record =
        build_unless_cached(session, "builder image", &tag, inputs, labels, make_context).await?;
    session.state.builder = Some(record.clone());
    session.save_state()?;
    Ok(record)
}

/// Runs file work off the async workers, so builds that run at the same time keep streaming.
async fn blocking<T: Send + 'static>(
    operation: &'static str,
    path: PathBuf,
    work: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PipelineError::Io {
            operation,
            path,
            source: std::io::Error::other(error),
        })?
}

/// Builds `tag` from the context `make_context` writes, unless the engine has it with the same inputs label.
async fn build_unless_cached(
    session: &Session,
    step: &str,
    tag: &str,
    inputs: crate::digest::Inputs,
    labels: BTreeMap<String, String>,
    make_context: impl std::future::Future<Output = Result<PathBuf, PipelineError>>,
) -> Result<ImageRecord, PipelineError> {
    let started = Instant::now();
    let digest = inputs.digest();
    if !session.force {
        if let Some(image) = session.engine.image(tag).await? {
            if image.labels.get(INPUTS_LABEL) == Some(&digest) {
                progress::done(
                    step,
                    started,
                    &format!(
                        "skipped: {tag} {} has the same inputs ({})",
                        short(&image.id),
                        short(&digest)
                    ),
                );
                return Ok(ImageRecord {
                    tag: tag.to_owned(),
                    id: image.id,
                    inputs,
                });
            }
            let previous = session
                .state
                .production
                .iter()
                .chain(session.state.builder.iter())
                .chain(session.state.nginx.iter())
                .find(|record| record.tag == tag && record.id == image.id);
            let why = previous.map_or_else(
                || "inputs changed".to_owned(),
                |record| {
                    format!(
                        "changed: {}",
                        inputs.changed_since(&record.inputs).join(", ")
                    )
                },
            );
            progress::step(step, &format!("building {tag}: {why}"));
        } else {
            progress::step(step, &format!("building {tag}: no such image yet"));
        }
    } else {
        progress::step(step, &format!("building {tag}: --force"));
    }
    let context = make_context.await?;
    let mut labels = labels;
    labels.insert(INPUTS_LABEL.to_owned(), digest);
    let spec = BuildSpec {
        tag: tag.to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        labels,
    };
    let id = session
        .engine
        .build_image(&spec, &context, &mut |line| progress::output(step, line))
        .await
        .map_err(|error| match error {
            dockyard_engine::EngineError::Stream { message, .. } => {
                PipelineError::ImageBuildFailed {
                    image: tag.to_owned(),
                    message,
                }
            }
            other => other.into(),
        })?;
    progress::done(step, started, &format!("built {tag} {}", short(&id)));
    Ok(ImageRecord {
        tag: tag.to_owned(),
        id,
        inputs,
    })
}

/// Runs the builder container and exports what it made as the deterministic context tarball, unless the
/// tarball on disk already comes from the same inputs.
pub async fn export(session: &mut Session) -> Result<ExportRecord, PipelineError> {
    let step = "export";
    let started = Instant::now();
    let builder = session
        .state
        .builder
        .clone()
        .ok_or(PipelineError::MissingArtifact {
            what: "the builder image",
            path: PathBuf::from(&session.prepared.builder_tag),
        })?;
    let inputs = session.prepared.export_inputs(&builder.inputs.digest());
    let context_path = session.prepared.paths.context_tarball.clone();
    if !session.force {
        if let Some(record) = session
            .state
            .export
            .clone()
            .filter(|record| record.inputs == inputs)
        {
            if dockyard_context::sha256_file(&context_path).ok().as_deref()
                == Some(record.sha256.as_str())
            {
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
    }
    let reason = match &session.state.export {
        _ if session.force => "--force".to_owned(),
        Some(record) => format!(
            "changed: {}",
            inputs.changed_since(&record.inputs).join(", ")
        ),
        None => "no earlier export".to_owned(),
    };
    progress::step(step, &format!("running the builder container ({reason})"));

    let prepared = &session.prepared;
    let config = &prepared.config;
    let folder = work_dir(session);
    std::fs::create_dir_all(&folder).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: folder.clone(),
        source,
    })?;
    let pack_options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    let source = dockyard_context::write_tarball_file(&prepared.paths.source_tarball, |out| {
        dockyard_context::pack_source_tree(
            &config.app.path,
            &crate::plan::source_rules(config),
            &pack_options,
            out,
        )
    })?;
    progress::detail(&format!(
        "source: {} files, {} bytes, sha256 {}",
        source.n_files,
        source.n_bytes,
        &source.sha256[..12]
    ));

    let mut cache_labels =
        BTreeMap::from([(PROJECT_LABEL.to_owned(), config.project.name.clone())]);
    cache_labels.insert(CACHE_LABEL.to_owned(), "pip".to_owned());
    session
        .engine
        .ensure_volume(&config.builder.pip_cache_volume, &cache_labels)
        .await?;

    let ca_bundle = std::env::var_os(CA_BUNDLE_ENV)
        .map(PathBuf::from)
        .or_else(|| config.builder.ca_bundle.clone());
    let mut env = vec![
        format!(
            "DOCKYARD_REQUIREMENTS={}",
            join_paths(&config.app.requirements)
        ),
        format!(
            "DOCKYARD_TEST_REQUIREMENTS={}",
            join_paths(&config.app.test_requirements)
        ),
        format!("DOCKYARD_STATIC_ROOT={}", config.app.static_root.display()),
        format!("DJANGO_SETTINGS_MODULE={}", config.app.settings_module),
        format!("DJANGO_SECRET_KEY={}", throwaway_secret()?),
        format!(
            "SOURCE_DATE_EPOCH={}",
            prepared.provenance.source_date_epoch
        ),
    ];
    env.extend(
        config
            .app
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}")),
    );
    if ca_bundle.is_some() {
        env.push("PIP_CERT=/etc/dockyard/ca.pem".to_owned());
        env.push("SSL_CERT_FILE=/etc/dockyard/ca.pem".to_owned());
        env.push("REQUESTS_CA_BUNDLE=/etc/dockyard/ca.pem".to_owned());
    }
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-builder-{}",
            config.project.name, session.run_id
        )),
        image: builder.id.clone(),
        cmd: config.app.test_command.clone(),
        env,
        labels: session.run_labels(),
        volumes: vec![VolumeMount {
            volume: config.builder.pip_cache_volume.clone(),
            target: "/cache/pip".to_owned(),
        }],
        ..ContainerSpec::default()
    };
    let engine = session.engine.clone();
    let container = engine.create_container(&spec).await?;
    engine
        .upload_tar_file(&container, "/src", &prepared.paths.source_tarball)
        .await?;
    let mut kit = Vec::new();
    dockyard_context::pack_members(&prepared.kit, &pack_options, &mut kit)?;
    engine.upload_tar_bytes(&container, "/kit", kit).await?;
    if let Some(ca_bundle) = &ca_bundle {
        let bytes = std::fs::read(ca_bundle).map_err(|source| PipelineError::Io {
            operation: "reading the CA bundle",
            path: ca_bundle.clone(),
            source,
        })?;
        let mut tar = Vec::new();
        let member = dockyard_context::Member {
            path: "ca.pem".to_owned(),
            bytes,
            executable: false,
        };
        dockyard_context::pack_members(&[member], &pack_options, &mut tar)?;
        engine
            .upload_tar_bytes(&container, "/etc/dockyard", tar)
            .await?;
        progress::detail(&format!(
            "CA bundle {} uploaded into the builder container only",
            ca_bundle.display()
        ));
    }
    engine.start_container(&container).await?;
    let mut current_step = String::from("start");
    let mut tail: Vec<String> = Vec::new();
    engine
        .follow_logs(&container, &mut |line: LogLine| {
            let text = line.text();
            if let Some(step) = text.strip_prefix("==> dockyard step: ") {
                current_step = step.to_owned();
                progress::detail(&format!("builder step: {step}"));
            } else {
                progress::output("builder", text);
            }
            tail.push(text.to_owned());
            if tail.len() > 40 {
                tail.remove(0);
            }
        })
        .await?;
    let exit_code = engine.wait_container(&container).await?;
    if exit_code != 0 {
        return Err(PipelineError::BuilderStepFailed {
            step: current_step,
            exit_code,
            tail,
        });
    }

    progress::detail("downloading /out from the builder container");
    let download = folder.join("out.tar");
    let n_bytes = engine
        .download_to_file(&container, "/out/.", &download)
        .await?;
    engine.remove_container(&container).await?;
    let unpacked = folder.join("out");
    std::fs::create_dir_all(&unpacked).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: unpacked.clone(),
        source,
    })?;
    let (download_path, unpacked_path, context, mtime) = (
        download.clone(),
        unpacked.clone(),
        context_path.clone(),
        pack_options.mtime,
    );
    let unpack_and_repack = tokio::task::spawn_blocking(move || -> Result<_, PipelineError> {
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
    .await
    .map_err(|error| PipelineError::Io {
        operation: "packing",
        path: context_path.clone(),
        source: std::io::Error::other(error),
    })
    .and_then(|result| result);
    let summary = match unpack_and_repack {
        Ok(summary) => summary,
        Err(error) => {
            // A refused export (a hostile or broken builder) leaves nothing half-extracted behind.
            let _ = std::fs::remove_dir_all(&folder);
            return Err(error);
        }
    };
    let manifest = unpacked.join("staticfiles").join("staticfiles.json");
    let static_manifest_sha256 = manifest
        .is_file()
        .then(|| dockyard_context::sha256_file(&manifest))
        .transpose()?;
    let _ = std::fs::remove_dir_all(&folder);
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
        inputs,
    };
    session.state.export = Some(record.clone());
    session.save_state()?;
    Ok(record)
}

/// Builds the production image from the exported context tarball alone, unless one with the same inputs exists.
pub async fn build_production(session: &mut Session) -> Result<ImageRecord, PipelineError> {
    let record = production_image(session).await?;
    session.state.production = Some(record.clone());
    session.save_state()?;
    Ok(record)
}

/// Builds the nginx image (see [`nginx_image`]) unless one with the same inputs exists.
pub async fn build_nginx(session: &mut Session) -> Result<Option<ImageRecord>, PipelineError> {
    let record = nginx_image(session).await?;
    if let Some(record) = &record {
        session.state.nginx = Some(record.clone());
        session.save_state()?;
    }
    Ok(record)
}

/// Builds the production and nginx images at the same time: both come from the exported context alone and
/// neither needs the other. Whatever finished is recorded; the first failure is returned.
pub async fn build_production_and_nginx(
    session: &mut Session,
) -> Result<(ImageRecord, Option<ImageRecord>), PipelineError> {
    let (production, nginx) = tokio::join!(production_image(session), nginx_image(session));
    if let Ok(record) = &production {
        session.state.production = Some(record.clone());
    }
    if let Ok(Some(record)) = &nginx {
        session.state.nginx = Some(record.clone());
    }
    session.save_state()?;
    Ok((production?, nginx?))
}

async fn production_image(session: &Session) -> Result<ImageRecord, PipelineError> {
    let export = session.exported_context()?;
    let labels = session
        .prepared
        .production_labels(&export.sha256, export.static_manifest_sha256.as_deref());
    let base_id = session.base_id(&session.prepared.config.production.base);
    let inputs = session
        .prepared
        .production_inputs(base_id.as_deref(), &export.sha256, &labels);
    let tag = session.prepared.production_tag.clone();
    let context = export.path.clone();
    build_unless_cached(session, "production image", &tag, inputs, labels, async {
        Ok(context)
    })
    .await
}

/// The nginx image from the static files in the exported context, its rendered config and Dockerfile.
/// Nothing is shared with the app container at run time.
async fn nginx_image(session: &Session) -> Result<Option<ImageRecord>, PipelineError> {
    let (Some(nginx), Some(nginx_config)) = (
        session.prepared.nginx.clone(),
        session.prepared.config.nginx.clone(),
    ) else {
        return Ok(None);
    };
    let export = session.exported_context()?;
    let base_id = session.base_id(&nginx_config.base);
    let labels = session
        .prepared
        .nginx_labels(&export.sha256, export.static_manifest_sha256.as_deref());
    let inputs = session
        .prepared
        .nginx_inputs(base_id.as_deref(), &export.sha256, &labels)
        .unwrap_or_default();
    let folder = work_dir(session).join("nginx");
    let context_path = session.prepared.paths.target.join(format!(
        "{}-nginx-context.tar.gz",
        session.prepared.config.project.name
    ));
    let mtime = session.prepared.provenance.source_date_epoch;
    let tag = nginx.tag.clone();
    let make_context = async move {
        blocking("packing", context_path.clone(), move || {
            make_nginx_context(&export.path, &folder, &nginx, mtime, &context_path)?;
            Ok(context_path)
        })
        .await
    };
    let record =
        build_unless_cached(session, "nginx image", &tag, inputs, labels, make_context).await?;
    Ok(Some(record))
}

/// Writes the nginx build context: `Dockerfile`, `nginx.conf` and `static/` (the exported `staticfiles/`), deterministically.
fn make_nginx_context(
    context_tarball: &Path,
    folder: &Path,
    nginx: &crate::plan::PreparedNginx,
    mtime: u64,
    output: &Path,
) -> Result<(), PipelineError> {
    let io_error = |operation: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| PipelineError::Io {
            operation,
            path,
            source,
        }
    };
    let unpacked = folder.join("unpacked");
    let _ = std::fs::remove_dir_all(folder);
    std::fs::create_dir_all(&unpacked).map_err(io_error("creating", &unpacked))?;
    let file =
        std::fs::File::open(context_tarball).map_err(io_error("opening", context_tarball))?;
    dockyard_context::unpack_archive_safely(
        flate2::read::GzDecoder::new(std::io::BufReader::new(file)),
        &unpacked,
    )?;
    let context = folder.join("context");
    std::fs::create_dir_all(&context).map_err(io_error("creating", &context))?;
    let static_files = unpacked.join("staticfiles");
    if !static_files.is_dir() {
        return Err(PipelineError::MissingArtifact {
            what: "staticfiles/ in the exported context",
            path: context_tarball.to_path_buf(),
        });
    }
    std::fs::rename(&static_files, context.join("static"))
        .map_err(io_error("moving", &static_files))?;
    std::fs::write(context.join("Dockerfile"), &nginx.dockerfile)
        .map_err(io_error("writing", &context))?;
    std::fs::write(context.join("nginx.conf"), &nginx.config)
        .map_err(io_error("writing", &context))?;
    let options = PackOptions { mtime };
    dockyard_context::write_tarball_file(output, |out| {
        dockyard_context::pack_tree(&context, &options, out)
    })?;
    let _ = std::fs::remove_dir_all(folder);
    Ok(())
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A random value for settings that refuse to start without a secret key; lives only in a container's environment.
/// An operating system that gives no random bytes is an error: a guessable key is worse than none.
pub fn throwaway_secret() -> Result<String, PipelineError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(PipelineError::Randomness)?;
    Ok(format!(
        "dockyard-throwaway-{}",
        crate::digest::sha256_hex(&bytes)
    ))
}

/// Paths of a run's temporary work folders, for `clean`.
pub fn work_dirs(target: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(target)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| name.starts_with("work-"))
                })
                .collect()
        })
        .unwrap_or_default()
}
