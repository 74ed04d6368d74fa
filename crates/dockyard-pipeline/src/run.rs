//! The run's build steps and what they share: the session, cleanup, the cache check of image builds, the builder,
//! production and nginx images; the base and export steps have their own modules.
//!
//! Every container, network and volume a run creates carries the run label; [`with_cleanup`] removes them all
//! whether the run succeeds, fails or is interrupted with Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dockyard_config::Template;
use dockyard_context::PackOptions;
use dockyard_engine::{BuildSpec, Engine, PROJECT_LABEL, RUN_LABEL};

use crate::decide::{decide, Action, Evidence};
use crate::plan::{short, Prepared, INPUTS_LABEL};
use crate::progress;
use crate::state::{AssetsRecord, ExportRecord, ImageRecord, State};
use crate::step::Step;
use crate::PipelineError;

mod assemble;
mod assets;
mod base;
pub(crate) mod builder_container;
pub(crate) mod export;
mod matrix;
mod platform_sdists;
mod platform_wheels;
mod platforms;

pub use assets::build_assets;
pub use base::ensure_base;
pub use export::{export, write_planned_source};
pub use matrix::matrix_tests;
pub use platforms::{platform_images, platform_tag};

/// Environment variable that overrides `builder.ca_bundle`.
pub const CA_BUNDLE_ENV: &str = "DOCKYARD_CA_BUNDLE";
/// Label on the pip cache volume, which outlives runs on purpose.
pub const CACHE_LABEL: &str = "dev.dockyard.cache";

/// One run of the pipeline against one engine (and the engines of the platforms of `[platforms] engines`).
pub struct Session {
    /// The engine: `DOCKER_HOST`'s, this machine's platform's.
    pub engine: Engine,
    /// `[platforms] engines`, connected: the engine of each platform that has its own, by Debian architecture.
    /// Its bases, images, smoke run, scan export and push go there; everything else to [`Session::engine`].
    pub platform_engines: BTreeMap<String, Engine>,
    /// Everything computed before the engine was involved.
    pub prepared: Prepared,
    /// The state file as loaded, updated as steps finish.
    pub state: State,
    /// Unique id of this run, the value of the run label.
    pub run_id: String,
    /// Rebuild even when inputs are unchanged.
    pub force: bool,
    /// For `check` and `release`: the version and whether the git tree is dirty, worked out before the engine
    /// was involved.
    pub preflight: Option<crate::release::Preflight>,
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

    /// With `[assets] runs_in = "node"`, the output the last assets step recorded; an error naming it when there is
    /// none on disk. `None` without a Node build.
    pub fn assets_output(&self) -> Result<Option<AssetsRecord>, PipelineError> {
        let node = self
            .prepared
            .config
            .assets
            .as_ref()
            .is_some_and(|assets| assets.runs_in == dockyard_config::AssetsRunsIn::Node);
        if !node {
            return Ok(None);
        }
        let missing = |path| PipelineError::MissingArtifact {
            what: "the output of the assets step",
            path,
        };
        let record = self
            .state
            .assets
            .clone()
            .ok_or_else(|| missing(self.prepared.paths.assets_tarball.clone()))?;
        if !record.path.is_file() {
            return Err(missing(record.path));
        }
        Ok(Some(record))
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

    /// The image of each `[services.<name>]` by service name, as the base step recorded its `service-<name>` base.
    pub fn service_images(&self) -> Result<BTreeMap<String, String>, PipelineError> {
        let config = &self.prepared.config;
        config
            .services
            .values()
            .map(|service| {
                let id =
                    self.base_id(&service.base)
                        .ok_or_else(|| PipelineError::MissingArtifact {
                            what: "the service's image (run `cargo xtask base`)",
                            path: PathBuf::from(config.base(&service.base).image.to_string()),
                        })?;
                Ok((service.name.clone(), id))
            })
            .collect()
    }

    /// The builder image the builder image step recorded, or why a later step cannot run without it.
    pub fn builder_image(&self) -> Result<ImageRecord, PipelineError> {
        self.state
            .builder
            .clone()
            .ok_or(PipelineError::MissingArtifact {
                what: "the builder image",
                path: PathBuf::from(&self.prepared.builder_tag),
            })
    }

    /// The id of a base image as the base step recorded it.
    pub fn base_id(&self, name: &str) -> Option<String> {
        self.state.bases.get(name).map(|record| record.id.clone())
    }

    /// The engine of `architecture`'s images: its own (`[platforms] engines`), else this machine's.
    pub fn engine_of(&self, architecture: &str) -> &Engine {
        self.platform_engines
            .get(architecture)
            .unwrap_or(&self.engine)
    }

    /// Every engine of the run: this machine's first, then each platform's own.
    pub fn engines(&self) -> impl Iterator<Item = &Engine> {
        std::iter::once(&self.engine).chain(self.platform_engines.values())
    }

    /// Runs `work` with `architecture`'s own engine in place of this machine's when it has one (the steps it runs
    /// speak to `session.engine`), putting this machine's back after. Only for the base and platform steps: an
    /// interrupted `work` leaves the platform's engine in place, which the cleanup, holding every engine, is fine
    /// with.
    pub(crate) async fn on_engine_of<T>(
        &mut self,
        architecture: &str,
        work: impl AsyncFnOnce(&mut Session) -> T,
    ) -> T {
        let Some(engine) = self.platform_engines.get(architecture).cloned() else {
            return work(self).await;
        };
        let native = std::mem::replace(&mut self.engine, engine);
        let result = work(self).await;
        self.engine = native;
        result
    }

    fn save_state(&self) -> Result<(), PipelineError> {
        crate::state::save(&self.prepared.paths.state, &self.state)
    }
}

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or SIGTERM (a CI runner cancelling the job, `timeout`,
/// `kill`); either way the run cleans up and exits as interrupted.
async fn stop_requested() {
    #[cfg(unix)]
    if let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs `work`, then removes everything labelled with the session's run id, also when `work` fails or Ctrl-C (or
/// SIGTERM) arrives.
pub async fn with_cleanup<T>(
    session: &mut Session,
    work: impl AsyncFnOnce(&mut Session) -> Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let engines: Vec<Engine> = session.engines().cloned().collect();
    let run_id = session.run_id.clone();
    let work_dir = work_dir(session);
    let res = tokio::select! {
        res = work(session) => res,
        () = stop_requested() => {
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
        for engine in &engines {
            match engine.find_labelled(&[&label]).await {
                Ok(leftovers) if !leftovers.is_empty() => {
                    for failure in engine.remove_leftovers(&leftovers).await {
                        progress::warning(&format!("cleanup: {failure}"));
                    }
                }
                Ok(_) => {}
                Err(error) => progress::warning(&format!("cleanup: {} {error}", engine.host())),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    res
}

pub(crate) fn work_dir(session: &Session) -> PathBuf {
    session.prepared.paths.work_dir(&session.run_id)
}

/// The run's work folder, created: the steps that need scratch space (a bootstrapped root filesystem, the builder's
/// download, the assets' output) share it, and `with_cleanup` removes it.
pub(crate) fn created_work_dir(session: &Session) -> Result<PathBuf, PipelineError> {
    let folder = work_dir(session);
    std::fs::create_dir_all(&folder).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: folder.clone(),
        source,
    })?;
    Ok(folder)
}

/// Builds the builder image unless an image with the same inputs exists.
pub async fn ensure_builder_image(session: &mut Session) -> Result<ImageRecord, PipelineError> {
    let prepared = &session.prepared;
    let base_id = session.base_id(&prepared.config.builder.base);
    let builder = BuilderToMake {
        step: Step::BuilderImage.name(),
        tag: prepared.builder_tag.clone(),
        members: prepared.builder_context.clone(),
        context_path: prepared.paths.builder_context_tarball.clone(),
        inputs: prepared.builder_inputs(base_id.as_deref()),
    };
    let record = make_builder_image(session, builder).await?;
    session.state.builder = Some(record.clone());
    session.save_state()?;
    Ok(record)
}

/// A builder image to make unless the engine has it with the same inputs.
pub(crate) struct BuilderToMake {
    /// The step it is made in.
    pub step: String,
    /// Its tag.
    pub tag: String,
    /// Its context's files.
    pub members: Vec<dockyard_context::Member>,
    /// Where its context tarball is written.
    pub context_path: PathBuf,
    /// What it is made from.
    pub inputs: crate::digest::Inputs,
}

/// Builds `builder` (labelled with the project, its title and its inputs) unless it is cached.
pub(crate) async fn make_builder_image(
    session: &Session,
    builder: BuilderToMake,
) -> Result<ImageRecord, PipelineError> {
    let BuilderToMake {
        step,
        tag,
        members,
        context_path,
        inputs,
    } = builder;
    let prepared = &session.prepared;
    let mut labels = BTreeMap::from([
        (
            PROJECT_LABEL.to_owned(),
            prepared.config.project.name.clone(),
        ),
        ("org.opencontainers.image.title".to_owned(), tag.clone()),
    ]);
    labels.insert(INPUTS_LABEL.to_owned(), inputs.digest());
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
    let make = async |labels| docker_build(session, &step, &tag, labels, make_context).await;
    build_unless_cached(session, &step, &tag, inputs, labels, make).await
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

/// How an image is made when its inputs changed: given its labels (the inputs label included), returns its id.
trait MakeImage: AsyncFnOnce(BTreeMap<String, String>) -> Result<String, PipelineError> {}
impl<F: AsyncFnOnce(BTreeMap<String, String>) -> Result<String, PipelineError>> MakeImage for F {}

/// Makes `tag` with `make`, unless the engine has it with the same inputs label.
async fn build_unless_cached(
    session: &Session,
    step: &str,
    tag: &str,
    inputs: crate::digest::Inputs,
    labels: BTreeMap<String, String>,
    make: impl MakeImage,
) -> Result<ImageRecord, PipelineError> {
    let started = Instant::now();
    let digest = inputs.digest();
    // The evidence is the image the engine holds under the tag (its inputs label); the state file's record of
    // that image, when it is the same image, names what changed.
    let image = session.engine.image(tag).await?;
    let found_digest = image
        .as_ref()
        .and_then(|image| image.labels.get(INPUTS_LABEL).cloned());
    let recorded = image.as_ref().and_then(|image| {
        [
            &session.state.production,
            &session.state.builder,
            &session.state.nginx,
        ]
        .into_iter()
        .flatten()
        .chain(session.state.matrix.values().map(|record| &record.builder))
        .find(|record| record.tag == tag && record.id == image.id)
    });
    let evidence = match &found_digest {
        Some(found) => Evidence::Earlier {
            digest: found,
            inputs: recorded.map(|record| &record.inputs),
        },
        None => Evidence::Nothing,
    };
    let decision = decide(&inputs, evidence, session.force);
    if let (Action::Cached, Some(image)) = (decision.action, &image) {
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
            id: image.id.clone(),
            inputs,
        });
    }
    let why = match (&image, decision.reason.as_str()) {
        (None, "no earlier run") => "no such image yet".to_owned(),
        (_, reason) => reason.to_owned(),
    };
    progress::step(step, &format!("building {tag}: {why}"));
    let mut labels = labels;
    labels.insert(INPUTS_LABEL.to_owned(), digest);
    let id = make(labels).await?;
    progress::done(step, started, &format!("built {tag} {}", short(&id)));
    Ok(ImageRecord {
        tag: tag.to_owned(),
        id,
        inputs,
    })
}

/// Builds `tag` with the engine's classic builder from the context tarball `make_context` writes.
async fn docker_build(
    session: &Session,
    step: &str,
    tag: &str,
    labels: BTreeMap<String, String>,
    make_context: impl std::future::Future<Output = Result<PathBuf, PipelineError>>,
) -> Result<String, PipelineError> {
    let context = make_context.await?;
    let spec = BuildSpec {
        tag: tag.to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        labels,
    };
    session
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
        })
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
    let prepared = &session.prepared;
    let labels = prepared.production_labels(&export);
    let base_id = session.base_id(&prepared.config.production.base);
    let inputs = prepared.production_inputs(base_id.as_deref(), &export, &labels);
    let tag = prepared.production_tag.clone();
    let step = &Step::ProductionImage.name();
    let make = async |labels| match &prepared.config.production.dockerfile {
        Template::BuiltIn(..) => {
            let base_id = base_id
                .as_deref()
                .ok_or_else(|| missing_base(&prepared.config.production.base))?;
            assemble::production(session, &tag, base_id, &export.path, labels).await
        }
        Template::File(_) => {
            docker_build(session, step, &tag, labels, async {
                Ok(export.path.clone())
            })
            .await
        }
    };
    build_unless_cached(session, step, &tag, inputs, labels, make).await
}

fn missing_base(name: &str) -> PipelineError {
    PipelineError::MissingArtifact {
        what: "the base image (run `cargo xtask base`)",
        path: PathBuf::from(format!("base.{name}")),
    }
}

/// The nginx image from the static files in the exported context and its rendered config (assembled), or from the
/// project's own nginx Dockerfile (built). Nothing is shared with the app container at run time.
async fn nginx_image(session: &Session) -> Result<Option<ImageRecord>, PipelineError> {
    let (Some(nginx), Some(nginx_config)) = (
        session.prepared.nginx.clone(),
        session.prepared.config.nginx.clone(),
    ) else {
        return Ok(None);
    };
    let export = session.exported_context()?;
    let base_id = session.base_id(&nginx_config.base);
    let labels = session.prepared.nginx_labels(&export);
    let inputs = session
        .prepared
        .nginx_inputs(base_id.as_deref(), &export, &labels)
        .unwrap_or_default();
    let folder = work_dir(session).join("nginx");
    let context_path = session.prepared.paths.nginx_context_tarball.clone();
    let mtime = session.prepared.provenance.source_date_epoch;
    let tag = nginx.tag.clone();
    let step = &Step::NginxImage.name();
    // The nginx context (its Dockerfile, nginx.conf, static/) is written either way: `docker build - <` it gives the
    // same image, and the benchmark's baseline builds it.
    let (export_path, prepared_nginx) = (export.path.clone(), nginx.clone());
    let make_context = async move {
        blocking("packing", context_path.clone(), move || {
            make_nginx_context(&export_path, &folder, &prepared_nginx, mtime, &context_path)?;
            Ok(context_path)
        })
        .await
    };
    let make = async |labels| match &nginx_config.dockerfile {
        Template::BuiltIn(..) => {
            let base_id = base_id
                .as_deref()
                .ok_or_else(|| missing_base(&nginx_config.base))?;
            let assembled = assemble::nginx(session, &tag, base_id, &nginx, &export.path, labels);
            let (id, context) = tokio::join!(assembled, make_context);
            context?;
            id
        }
        Template::File(_) => docker_build(session, step, &tag, labels, make_context).await,
    };
    let record = build_unless_cached(session, step, &tag, inputs, labels, make).await?;
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
