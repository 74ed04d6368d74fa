//! The production and nginx images assembled, not built: layers written from the exported context, the image
//! configuration written beside them, and the archive loaded through the Engine API. Same inputs, same image id.
//!
//! The production image's dependencies layer (the virtualenv) is made once per set of wheels and base: a container
//! of the production base installs the wheels, Dockyard downloads `/opt/venv` and keeps the layer under
//! `target/dockyard/layers/`; a source edit only writes the app layer. When the builder makes a new dependencies
//! volume, the export starts that container beside the builder's tests, on the volume's wheels, so the production
//! image step finds the layer made; otherwise the step makes it with the context's wheels uploaded. Layers the engine already holds (the base's,
//! and the dependencies of the image the tag points at) are left out of the archive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dockyard_engine::ContainerSpec;
use dockyard_image::{ArchiveLayer, ImageConfig, Layer, LayerBuilder};

use super::{blocking, Session};
use crate::assembly;
use crate::builder_protocol;
use crate::digest::sha256_hex;
use crate::plan::short;
use crate::progress;
use crate::provenance::rfc3339;
use crate::step::Step;
use crate::PipelineError;

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError {
    let path = path.to_path_buf();
    move |source| PipelineError::Io {
        operation,
        path,
        source,
    }
}

fn created_folder(path: PathBuf) -> Result<PathBuf, PipelineError> {
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).map_err(io_error("creating", &path))?;
    Ok(path)
}

/// Unpacks the exported context into `folder/context` (off the async workers).
async fn unpack_context(context: &Path, folder: &Path) -> Result<PathBuf, PipelineError> {
    let (context, unpacked) = (context.to_path_buf(), folder.join("context"));
    blocking("unpacking", context.clone(), move || {
        let unpacked = created_folder(unpacked)?;
        let file = std::fs::File::open(&context).map_err(io_error("opening", &context))?;
        dockyard_context::unpack_archive_safely(
            flate2::read::GzDecoder::new(std::io::BufReader::new(file)),
            &unpacked,
        )?;
        Ok(unpacked)
    })
    .await
}

/// Writes a layer off the async workers.
async fn write_layer(layer: LayerBuilder, path: PathBuf) -> Result<Layer, PipelineError> {
    blocking("writing", path.clone(), move || Ok(layer.write(&path)?)).await
}

/// The base's layers, architecture and environment, as the engine holds them.
async fn base_image(
    session: &Session,
    base_id: &str,
) -> Result<dockyard_engine::ImageInfo, PipelineError> {
    session
        .engine
        .image(base_id)
        .await?
        .ok_or_else(|| PipelineError::MissingArtifact {
            what: "the base image (run `cargo xtask base`)",
            path: PathBuf::from(base_id),
        })
}

/// Writes the configuration and archive, loads it under `tag`, and returns the image id. `layers` are bottom first,
/// each with its history line; the base's are never in the archive, and `omit` names others the engine holds.
async fn load(
    session: &Session,
    folder: &Path,
    tag: &str,
    config: ImageConfig,
    layers: Vec<ArchiveLayer>,
) -> Result<String, PipelineError> {
    let archive = folder.join("image.tar");
    let (archive_path, tag_owned) = (archive.clone(), tag.to_owned());
    let expected = config.image_id();
    blocking("writing", archive.clone(), move || {
        Ok(dockyard_image::write_archive(
            &archive_path,
            &config,
            &tag_owned,
            &layers,
        )?)
    })
    .await?;
    let id = session
        .engine
        .load_image_archive(&archive, tag)
        .await
        .map_err(|error| PipelineError::ImageBuildFailed {
            image: tag.to_owned(),
            message: error.to_string(),
        })?;
    let _ = std::fs::remove_file(&archive);
    if id != expected {
        progress::warning(&format!(
            "{tag}: the engine gave id {} to configuration {}",
            short(&id),
            short(&expected)
        ));
    }
    Ok(id)
}

fn base_layers(base: &dockyard_engine::ImageInfo, name: &str) -> Vec<(ArchiveLayer, String)> {
    base.layers
        .iter()
        .map(|diff_id| {
            (
                ArchiveLayer {
                    diff_id: diff_id.clone(),
                    file: None,
                },
                format!("base image {name} ({})", short(&base.id)),
            )
        })
        .collect()
}

/// The base's labels with the image's own over them, as a Dockerfile's `LABEL` over its `FROM` gives.
fn inherited(
    base: &dockyard_engine::ImageInfo,
    labels: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut all = base.labels.clone();
    all.extend(labels);
    all
}

/// Writes the configuration for `layers` (bottom first, each with its history line) and `runtime` on `base`'s
/// architecture, loads the archive under `tag`, removes the work `folder` and returns the image id.
async fn finish(
    session: &Session,
    folder: &Path,
    tag: &str,
    base: &dockyard_engine::ImageInfo,
    layers: Vec<(ArchiveLayer, String)>,
    runtime: dockyard_image::RuntimeConfig,
) -> Result<String, PipelineError> {
    let history: Vec<(String, String)> = layers
        .iter()
        .map(|(layer, created_by)| (layer.diff_id.clone(), created_by.clone()))
        .collect();
    let layers = layers.into_iter().map(|(layer, _)| layer).collect();
    let image = ImageConfig::new(
        &base.architecture,
        &rfc3339(session.prepared.provenance.created_epoch),
        runtime,
        &history,
    );
    let id = load(session, folder, tag, image, layers).await?;
    let _ = std::fs::remove_dir_all(folder);
    Ok(id)
}

/// The production image from the exported context: base, dependencies, app. Returns the image id.
pub(super) async fn production(
    session: &Session,
    tag: &str,
    base_id: &str,
    context: &Path,
    labels: BTreeMap<String, String>,
) -> Result<String, PipelineError> {
    let prepared = &session.prepared;
    let config = &prepared.config;
    let folder = created_folder(super::work_dir(session).join("production"))?;
    let unpacked = unpack_context(context, &folder).await?;
    let base = base_image(session, base_id).await?;
    let dependencies = dependencies_layer(session, tag, &base, &unpacked, &folder).await?;
    let app = {
        let layer = assembly::app_layer(&unpacked, config, prepared.provenance.source_date_epoch)?;
        write_layer(layer, folder.join("app.tar")).await?
    };
    // The dependencies' file is left out when the image the tag points at already sits on the same layers.
    let chain: Vec<String> = base
        .layers
        .iter()
        .cloned()
        .chain([dependencies.diff_id.clone()])
        .collect();
    let engine_has_dependencies = session
        .engine
        .image(tag)
        .await?
        .is_some_and(|image| image.layers.starts_with(&chain));
    let mut layers = base_layers(&base, &config.production.base);
    layers.push((
        ArchiveLayer {
            diff_id: dependencies.diff_id.clone(),
            file: (!engine_has_dependencies).then(|| dependencies.path.clone()),
        },
        format!(
            "dependencies: the wheels installed in {}, the app user, {}",
            assembly::VENV_DIR,
            assembly::DATA_DIR
        ),
    ));
    layers.push((
        ArchiveLayer {
            diff_id: app.diff_id.clone(),
            file: Some(app.path.clone()),
        },
        "the app: its source, the static manifest, [assets] outputs outside it".to_owned(),
    ));
    let runtime = assembly::production_runtime(config, &base.env, inherited(&base, labels));
    finish(session, &folder, tag, &base, layers, runtime).await
}

/// The dependencies layer for the wheels in the unpacked context on this base: from `target/dockyard/layers/` when
/// it was made before (by an earlier run, or beside this run's tests), otherwise made by a container of the base with
/// the wheels uploaded, and kept there.
async fn dependencies_layer(
    session: &Session,
    tag: &str,
    base: &dockyard_engine::ImageInfo,
    unpacked: &Path,
    folder: &Path,
) -> Result<Layer, PipelineError> {
    let wheels = unpacked.join("wheels");
    // Another platform's image: its own selection of the wheels (the pure ones shared, the fetched ones for its machine).
    let wheels = if base.architecture == dockyard_config::native_architecture() {
        wheels
    } else {
        let architecture = base.architecture.clone();
        let fetched = unpacked.join(builder_protocol::platform_wheels_dir(
            dockyard_config::wheel_machine(&architecture),
        ));
        let into = folder.join(format!("wheels-{architecture}"));
        let pins: Vec<dockyard_python::PinnedPackage> = (session.prepared.locked.pins.iter())
            .flat_map(|pins| pins.packages.iter().cloned())
            .collect();
        let (selected, chosen) = (into.clone(), pins.clone());
        let missing = blocking("selecting the wheels", wheels.clone(), move || {
            let pins: Vec<&dockyard_python::PinnedPackage> = chosen.iter().collect();
            super::platform_wheels::select(&wheels, &fetched, &architecture, &pins, &selected)
        })
        .await?;
        // Those the index has none of for that machine: built from their sdists for it.
        if !missing.is_empty() {
            let architecture = &base.architecture;
            let sdists = unpacked.join(builder_protocol::platform_sdists_dir(
                dockyard_config::wheel_machine(architecture),
            ));
            super::platform_sdists::build_missing(
                session,
                architecture,
                &sdists,
                missing,
                &pins,
                &into,
                folder,
            )
            .await?;
        }
        into
    };
    let sums = {
        let wheels = wheels.clone();
        blocking("hashing", wheels.clone(), move || wheel_sums(&wheels)).await?
    };
    let entry = CachedLayer::new(session, base, &sums)?;
    if let Some(layer) = entry.reuse() {
        progress::detail(&format!(
            "dependencies layer {} reused ({} MiB)",
            short(&layer.diff_id),
            layer.size / (1024 * 1024)
        ));
        return Ok(layer);
    }
    progress::step(
        &Step::ProductionImage.name(),
        &format!(
            "installing the wheels into {} on the base",
            assembly::VENV_DIR
        ),
    );
    let uploaded = Wheels::Uploaded {
        folder: &wheels,
        sums: &sums,
    };
    let installed = install_wheels(session, tag, base, uploaded, folder).await?;
    entry.store(session, installed, folder).await
}

/// The production image's dependencies layer made beside the builder's tests, from the wheels in the dependencies
/// volume `dependencies_volume` the builder has just made: the export starts it as soon as the builder announces it is
/// past its dependencies, so on a requirements change or a cold build the production image step finds the layer
/// made. Only for the built-in production template (a project's own Dockerfile installs its wheels itself).
pub(crate) async fn dependencies_layer_beside(
    session: &Session,
    dependencies_volume: &str,
) -> Result<(), PipelineError> {
    let config = &session.prepared.config;
    let (dockyard_config::Template::BuiltIn(..), Some(base_id)) = (
        &config.production.dockerfile,
        session.base_id(&config.production.base),
    ) else {
        return Ok(());
    };
    let base = base_image(session, &base_id).await?;
    let folder = created_folder(super::work_dir(session).join("dependencies-beside"))?;
    let tag = &session.prepared.production_tag;
    progress::detail(&format!(
        "{BESIDE}: installing the wheels into {} on the production base",
        assembly::VENV_DIR
    ));
    let made = async {
        let installed = install_wheels(
            session,
            tag,
            &base,
            Wheels::Volume(dependencies_volume),
            &folder,
        )
        .await?;
        let entry = CachedLayer::new(session, &base, &installed.wheel_sums)?;
        if entry.reuse().is_none() {
            let layer = entry.store(session, installed, &folder).await?;
            progress::detail(&format!(
                "{BESIDE}: dependencies layer {} made ({} MiB)",
                short(&layer.diff_id),
                layer.size / (1024 * 1024)
            ));
        }
        Ok(())
    }
    .await;
    // The unpacked venv is thousands of files: removed while the images are assembled (the run's cleanup removes
    // its work folder again at the end, whatever happens).
    drop(tokio::task::spawn_blocking(move || {
        let _ = std::fs::remove_dir_all(&folder);
    }));
    made
}

/// How progress lines name the production image's dependencies layer made during the export.
const BESIDE: &str = "beside the tests";

/// The `sha256sum` listing of the wheels in `wheels` (`<hex>  <name>` lines in byte order of the names), the same
/// text the container beside the tests writes for the dependencies volume's wheels: what the layer is keyed on.
fn wheel_sums(wheels: &Path) -> Result<String, PipelineError> {
    let mut names: Vec<String> = std::fs::read_dir(wheels)
        .map_err(io_error("reading", wheels))?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".whl"))
        .collect();
    names.sort();
    let mut sums = String::new();
    for name in names {
        let digest = dockyard_context::sha256_file(&wheels.join(&name))?;
        sums.push_str(&format!("{digest}  {name}\n"));
    }
    Ok(sums)
}

/// One dependencies layer in `target/dockyard/layers/`, keyed on the base, the wheels' `sha256sum` listing, the venv
/// script and the layer mtime; one is kept per project and architecture (each platform of `[platforms]` has its own,
/// so making one never drops another's).
struct CachedLayer {
    layers_dir: PathBuf,
    prefix: String,
    path: PathBuf,
}

impl CachedLayer {
    fn new(
        session: &Session,
        base: &dockyard_engine::ImageInfo,
        wheel_sums: &str,
    ) -> Result<CachedLayer, PipelineError> {
        let base_id = &base.id;
        let prepared = &session.prepared;
        let script = assembly::venv_script(prepared.config.production.user);
        let key = sha256_hex(
            format!(
                "base {base_id}\nwheels {}\nscript {}\nmtime {}\n",
                sha256_hex(wheel_sums.as_bytes()),
                sha256_hex(script.as_bytes()),
                prepared.provenance.source_date_epoch
            )
            .as_bytes(),
        );
        let layers_dir = prepared.paths.layers.clone();
        std::fs::create_dir_all(&layers_dir).map_err(io_error("creating", &layers_dir))?;
        let prefix = format!(
            "{}-dependencies-{}-",
            prepared.config.project.name, base.architecture
        );
        let path = layers_dir.join(format!("{prefix}{}.tar", &key[..16]));
        Ok(CachedLayer {
            layers_dir,
            prefix,
            path,
        })
    }

    /// The layer, when it was made before.
    fn reuse(&self) -> Option<Layer> {
        let diff_id = std::fs::read_to_string(self.path.with_extension("diffid")).ok()?;
        let size = std::fs::metadata(&self.path).ok()?.len();
        Some(Layer {
            path: self.path.clone(),
            diff_id: diff_id.trim().to_owned(),
            size,
        })
    }

    /// Writes the layer of what the venv script installed into the run's work `folder` (removed whatever happens),
    /// then moves it beside the others in one rename, the project's older ones removed.
    async fn store(
        &self,
        session: &Session,
        installed: Installed,
        folder: &Path,
    ) -> Result<Layer, PipelineError> {
        let prepared = &session.prepared;
        let layer = assembly::dependencies_layer(
            &installed.venv_root,
            installed.passwd,
            installed.group,
            prepared.config.production.user,
            prepared.provenance.source_date_epoch,
        )?;
        let partial = folder.join("dependencies.tar");
        let written = write_layer(layer, partial.clone()).await?;
        if let Ok(entries) = std::fs::read_dir(&self.layers_dir) {
            for entry in entries.filter_map(Result::ok) {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&self.prefix)
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        std::fs::rename(&partial, &self.path).map_err(io_error("moving", &partial))?;
        let diff_id_file = self.path.with_extension("diffid");
        std::fs::write(&diff_id_file, &written.diff_id)
            .map_err(io_error("writing", &diff_id_file))?;
        Ok(Layer {
            path: self.path.clone(),
            ..written
        })
    }
}

/// Where the venv script's container finds the wheels.
enum Wheels<'a> {
    /// Uploaded from this folder of the unpacked context, whose `sha256sum` listing is `sums`.
    Uploaded { folder: &'a Path, sums: &'a str },
    /// In the dependencies volume of this name, which the builder made (its `wheels/` linked at the wheels folder).
    Volume(&'a str),
}

/// What the venv script left: the downloaded virtualenv (a folder holding `venv/`), the passwd and group files it
/// wrote, and the `sha256sum` listing of the wheels it installed.
struct Installed {
    venv_root: PathBuf,
    passwd: Vec<u8>,
    group: Vec<u8>,
    wheel_sums: String,
}

/// Where the container beside the tests writes the wheels' `sha256sum` listing.
const WHEEL_SUMS: &str = "/dockyard-wheels.sha256";

/// Runs the venv script in a container of the base with the wheels uploaded or linked from the dependencies volume,
/// and returns what it installed.
async fn install_wheels(
    session: &Session,
    tag: &str,
    base: &dockyard_engine::ImageInfo,
    wheels: Wheels<'_>,
    folder: &Path,
) -> Result<Installed, PipelineError> {
    let engine = &session.engine;
    let step = Step::ProductionImage.name();
    let config = &session.prepared.config;
    let base_label = format!(
        "{} (base.{})",
        config.base(&config.production.base).image,
        config.production.base
    );
    let venv_script = assembly::venv_script(config.production.user);
    let (script, volumes, name) = match wheels {
        Wheels::Uploaded { .. } => (venv_script, Vec::new(), "venv"),
        Wheels::Volume(volume) => {
            let cache = crate::builder_protocol::DEPENDENCIES_CACHE_DIR;
            let wheels_dir = assembly::WHEELS_DIR;
            (
                format!(
                    "set -eu\nln -s {cache}/wheels {wheels_dir}\n\
                     (cd {wheels_dir} && LC_ALL=C sha256sum -- *.whl) > {WHEEL_SUMS}\n{venv_script}"
                ),
                vec![dockyard_engine::VolumeMount {
                    volume: volume.to_owned(),
                    target: cache.to_owned(),
                }],
                "venv-beside",
            )
        }
    };
    let spec = ContainerSpec {
        name: Some(format!("{}-{name}-{}", config.project.name, session.run_id)),
        image: base.id.clone(),
        cmd: vec!["/bin/sh".to_owned(), "-c".to_owned(), script],
        user: Some("0:0".to_owned()),
        labels: session.run_labels(),
        volumes,
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&spec).await?;
    if let Wheels::Uploaded { folder: wheels, .. } = wheels {
        let mut layer = LayerBuilder::new(0);
        layer.tree(assembly::WHEELS_DIR, wheels)?;
        let upload = write_layer(layer, folder.join("wheels.tar")).await?;
        engine
            .upload_tar_file(&container, "/", &upload.path)
            .await?;
    }
    engine.start_container(&container).await?;
    let mut tail: Vec<String> = Vec::new();
    let beside = matches!(wheels, Wheels::Volume(_));
    engine
        .follow_logs(&container, &mut |line| {
            let text = line.text().trim_end().to_owned();
            if !beside {
                progress::output(&step, &text);
            }
            tail.push(text);
            if tail.len() > 40 {
                tail.remove(0);
            }
        })
        .await?;
    let exit_code = engine.wait_container(&container).await?;
    if exit_code != 0 {
        return Err(PipelineError::DependenciesLayerFailed {
            image: tag.to_owned(),
            base: base_label.to_owned(),
            exit_code,
            tail,
        });
    }
    let download = |path: &'static str, file: &str| {
        let destination = folder.join(file);
        let container = container.clone();
        async move {
            engine
                .download_to_file(&container, path, &destination)
                .await?;
            Ok::<PathBuf, PipelineError>(destination)
        }
    };
    let wheel_sums = match wheels {
        Wheels::Uploaded { sums, .. } => sums.to_owned(),
        Wheels::Volume(_) => {
            let sums = download(WHEEL_SUMS, "wheels.sha256.tar").await?;
            String::from_utf8_lossy(&single_file(&sums)?).into_owned()
        }
    };
    let venv_tar = download(assembly::VENV_DIR, "venv.tar").await?;
    let passwd_tar = download("/etc/passwd", "passwd.tar").await?;
    let group_tar = download("/etc/group", "group.tar").await?;
    let venv_root = folder.join("venv-root");
    let unpack_into = venv_root.clone();
    // The engine deletes the container's thousands of venv files (seconds) while the download is unpacked.
    let (removed, unpacked) = tokio::join!(
        engine.remove_container(&container),
        blocking("unpacking", venv_tar.clone(), move || {
            let root = created_folder(unpack_into)?;
            let file = std::fs::File::open(&venv_tar).map_err(io_error("opening", &venv_tar))?;
            tar::Archive::new(std::io::BufReader::new(file))
                .unpack(&root)
                .map_err(io_error("unpacking", &venv_tar))
        })
    );
    removed?;
    unpacked?;
    Ok(Installed {
        venv_root,
        passwd: single_file(&passwd_tar)?,
        group: single_file(&group_tar)?,
        wheel_sums,
    })
}

/// The bytes of the one file of a tar the engine's download of a file path wrote.
fn single_file(tar_path: &Path) -> Result<Vec<u8>, PipelineError> {
    use std::io::Read;
    let file = std::fs::File::open(tar_path).map_err(io_error("opening", tar_path))?;
    let mut archive = tar::Archive::new(file);
    let mut entries = archive.entries().map_err(io_error("reading", tar_path))?;
    let mut bytes = Vec::new();
    if let Some(entry) = entries.next() {
        entry
            .map_err(io_error("reading", tar_path))?
            .read_to_end(&mut bytes)
            .map_err(io_error("reading", tar_path))?;
    }
    Ok(bytes)
}

/// The nginx image: base, then config, user and static files from the exported context. Returns the image id.
pub(super) async fn nginx(
    session: &Session,
    tag: &str,
    base_id: &str,
    nginx: &crate::plan::PreparedNginx,
    context: &Path,
    labels: BTreeMap<String, String>,
) -> Result<String, PipelineError> {
    let prepared = &session.prepared;
    let Some(nginx_config) = prepared.config.nginx.as_ref() else {
        return Err(PipelineError::Internal(
            "the nginx image without [nginx]".to_owned(),
        ));
    };
    let folder = created_folder(super::work_dir(session).join("nginx-assembly"))?;
    let unpacked = unpack_context(context, &folder).await?;
    let static_files = unpacked.join("staticfiles");
    if !static_files.is_dir() {
        return Err(PipelineError::MissingArtifact {
            what: "staticfiles/ in the exported context",
            path: context.to_path_buf(),
        });
    }
    let base = base_image(session, base_id).await?;
    let (passwd, group) = base_files(session, base_id, &folder).await?;
    let layer = assembly::nginx_layer(
        &nginx.config,
        &passwd,
        &group,
        nginx_config.user,
        &static_files,
        prepared.provenance.source_date_epoch,
    )?;
    let top = write_layer(layer, folder.join("nginx.tar")).await?;
    let mut layers = base_layers(&base, &nginx_config.base);
    layers.push((
        ArchiveLayer {
            diff_id: top.diff_id.clone(),
            file: Some(top.path.clone()),
        },
        format!(
            "nginx.conf, the nginx user, the static files in {}",
            assembly::NGINX_STATIC_DIR
        ),
    ));
    let runtime = assembly::nginx_runtime(
        nginx_config.port,
        nginx_config.user,
        &base.env,
        inherited(&base, labels),
    );
    finish(session, &folder, tag, &base, layers, runtime).await
}

/// The base's `/etc/passwd` and `/etc/group`, read from a created (never started) container of it once per base id
/// and kept beside the layers (an image id names its files for good), so a static file edit starts no container.
async fn base_files(
    session: &Session,
    base_id: &str,
    folder: &Path,
) -> Result<(Vec<u8>, Vec<u8>), PipelineError> {
    let hex = base_id.trim_start_matches("sha256:");
    let kept = session
        .prepared
        .paths
        .layers
        .join(format!("base-{}", &hex[..hex.len().min(16)]));
    let (kept_passwd, kept_group) = (kept.with_extension("passwd"), kept.with_extension("group"));
    if let (Ok(passwd), Ok(group)) = (std::fs::read(&kept_passwd), std::fs::read(&kept_group)) {
        return Ok((passwd, group));
    }
    let (passwd, group) = read_base_files(session, base_id, folder).await?;
    // Written whole, then renamed: a half-written pair is never read back.
    let layers = &session.prepared.paths.layers;
    std::fs::create_dir_all(layers).map_err(io_error("creating", layers))?;
    for (bytes, path) in [(&passwd, &kept_passwd), (&group, &kept_group)] {
        let partial = folder.join("base-file.partial");
        std::fs::write(&partial, bytes).map_err(io_error("writing", &partial))?;
        std::fs::rename(&partial, path).map_err(io_error("moving", &partial))?;
    }
    Ok((passwd, group))
}

/// Reads the base's `/etc/passwd` and `/etc/group` from a created (never started) container of it.
async fn read_base_files(
    session: &Session,
    base_id: &str,
    folder: &Path,
) -> Result<(Vec<u8>, Vec<u8>), PipelineError> {
    let engine = &session.engine;
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-nginx-base-{}",
            session.prepared.config.project.name, session.run_id
        )),
        image: base_id.to_owned(),
        cmd: vec!["/bin/true".to_owned()],
        labels: session.run_labels(),
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&spec).await?;
    let (passwd, group) = (folder.join("passwd.tar"), folder.join("group.tar"));
    engine
        .download_to_file(&container, "/etc/passwd", &passwd)
        .await?;
    engine
        .download_to_file(&container, "/etc/group", &group)
        .await?;
    engine.remove_container(&container).await?;
    Ok((single_file(&passwd)?, single_file(&group)?))
}
