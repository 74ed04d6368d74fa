//! The wheels of another platform the index has none of: each package's sdist (which the builder fetched into
//! `sdists-MACHINE`, checked here against the lock's hashes) built with `pip wheel` in a container of that
//! platform's builder base (`builder-arm64`), on the platform's own engine when it has one (natively), else on this
//! machine's under emulation. A built wheel is kept on the host by base and sdist, so an unchanged package is built
//! once. A package with no sdist, or a platform without a builder base, fails naming it; a build that fails names
//! the platform and the package.

use std::path::{Path, PathBuf};

use dockyard_context::PackOptions;
use dockyard_engine::ContainerSpec;
use dockyard_python::{normalize_name, PinnedPackage};

use super::builder_container::{ca_bundle, ca_member};
use super::platform_wheels::{check_pinned, no_platform_wheel, wheel_names, MissingWheel};
use super::Session;
use crate::builder_protocol;
use crate::dev::keep_tail;
use crate::digest::sha256_hex;
use crate::step::Step;
use crate::{progress, PipelineError};

/// What runs in the builder base's container: a venv of its Python (pip from `python3-venv`), then `pip wheel` of
/// the one uploaded sdist through PEP 517, as the builder builds (its build requirements, setuptools and wheel for
/// a bare `setup.py`, from the index through the CA bundle when there is one).
const SCRIPT: &str = "set -eu\n\
    python3 -m venv /tmp/wheel-venv\n\
    /tmp/wheel-venv/bin/pip wheel --no-deps --use-pep517 --progress-bar off --disable-pip-version-check \
    --wheel-dir /out \"/in/$DOCKYARD_SDIST\"\n";

/// Whether the exported context at `context` (a `.tar.gz`) holds sdists the builder fetched for `machine`: then the
/// platform's builder base is needed.
pub(crate) fn context_has_sdists(context: &Path, machine: &str) -> Result<bool, PipelineError> {
    let io = |source| PipelineError::Io {
        operation: "reading",
        path: context.to_owned(),
        source,
    };
    let folder = format!("{}/", builder_protocol::platform_sdists_dir(machine));
    let file = std::fs::File::open(context).map_err(io)?;
    let mut archive =
        tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    for entry in archive.entries().map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./");
        if path.len() > folder.len() && path.starts_with(&folder) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The sdist of `missing` in `sdists` (`crcmod-1.7.tar.gz`, `foo_bar-2.0.zip`), by normalized name and version.
fn sdist_of(sdists: &Path, missing: &MissingWheel) -> Option<PathBuf> {
    let entries = std::fs::read_dir(sdists).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let stem = name
                .strip_suffix(".tar.gz")
                .or_else(|| name.strip_suffix(".zip"));
            stem.and_then(|stem| stem.rsplit_once('-'))
                .is_some_and(|(distribution, version)| {
                    normalize_name(distribution) == missing.distribution
                        && version == missing.version
                })
        })
}

/// Builds a wheel for `architecture` of each of `missing` from its sdist in `sdists` into `into`. `folder` is
/// scratch space.
pub(crate) async fn build_missing(
    session: &Session,
    architecture: &str,
    sdists: &Path,
    missing: Vec<MissingWheel>,
    pins: &[PinnedPackage],
    into: &Path,
    folder: &Path,
) -> Result<(), PipelineError> {
    let config = &session.prepared.config;
    let builder_base = config
        .platforms
        .iter()
        .find(|platform| platform.architecture == architecture)
        .and_then(|platform| platform.builder_base.clone());
    let base_id = builder_base
        .as_deref()
        .and_then(|name| session.base_id(name));
    let (Some(builder_base), Some(base_id)) = (builder_base, base_id) else {
        return Err(no_platform_wheel(architecture, &missing));
    };
    let pins: Vec<&PinnedPackage> = pins.iter().collect();
    let mut buildable = Vec::new();
    let (mut unbuildable, mut mismatched) = (Vec::new(), Vec::new());
    for wheel in missing {
        match sdist_of(sdists, &wheel) {
            Some(sdist) => {
                match check_pinned(&sdist, &wheel.distribution, &wheel.version, &pins)? {
                    Some(mismatch) => mismatched.push(mismatch),
                    None => buildable.push((wheel, sdist)),
                }
            }
            None => unbuildable.push(wheel),
        }
    }
    if !mismatched.is_empty() {
        return Err(PipelineError::HashMismatch {
            packages: mismatched,
            tail: vec![format!(
                "the sdists fetched from the index to build for {architecture}"
            )],
        });
    }
    if !unbuildable.is_empty() {
        return Err(no_platform_wheel(architecture, &unbuildable));
    }
    let cache_root = session.prepared.paths.layers.join("platform-wheels");
    for (wheel, sdist) in buildable {
        let sdist_sha256 = dockyard_context::sha256_file(&sdist)?;
        let key =
            sha256_hex(format!("base {base_id}\nsdist {sdist_sha256}\nscript {SCRIPT}").as_bytes());
        let cached = cache_root.join(&key[..16]);
        let package = format!("{} {}", wheel.distribution, wheel.version);
        let built = match wheels_in(&cached)? {
            found if !found.is_empty() => {
                progress::detail(&format!(
                    "{package}: its {architecture} wheel built before, reused"
                ));
                found
            }
            _ => {
                build_one(
                    session,
                    architecture,
                    &builder_base,
                    &base_id,
                    &package,
                    &sdist,
                    folder,
                    &cached,
                )
                .await?
            }
        };
        for path in built {
            let target = into.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &target).map_err(|source| PipelineError::Io {
                operation: "copying",
                path: path.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// The `.whl` files in `folder`, sorted (none when it does not exist).
fn wheels_in(folder: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    Ok(wheel_names(folder)?
        .into_iter()
        .map(|name| folder.join(name))
        .collect())
}

/// Builds `sdist` in a container of the builder base `base_id` and keeps the wheel in `cached`.
#[allow(clippy::too_many_arguments)]
async fn build_one(
    session: &Session,
    architecture: &str,
    builder_base: &str,
    base_id: &str,
    package: &str,
    sdist: &Path,
    folder: &Path,
    cached: &Path,
) -> Result<Vec<PathBuf>, PipelineError> {
    let engine = &session.engine;
    let step = Step::PlatformImages(architecture.to_owned()).name();
    let config = &session.prepared.config;
    let file_name = sdist
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    progress::step(
        &step,
        &format!(
            "building {package} for {architecture} from {file_name} in {} (base.{builder_base}): the index has no {} wheel of it",
            config.base(builder_base).image,
            dockyard_config::wheel_machine(architecture)
        ),
    );
    let ca = ca_bundle(config);
    let mut env = vec![format!("DOCKYARD_SDIST={file_name}")];
    if ca.is_some() {
        env.extend(builder_protocol::ca_environment());
    }
    let spec = ContainerSpec {
        name: Some(format!(
            "{}-wheel-{architecture}-{}",
            config.project.name, session.run_id
        )),
        image: base_id.to_owned(),
        cmd: vec!["/bin/sh".to_owned(), "-c".to_owned(), SCRIPT.to_owned()],
        user: Some("0:0".to_owned()),
        env,
        labels: session.run_labels(),
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&spec).await?;
    let result = async {
        let pack_options = PackOptions {
            mtime: session.prepared.provenance.source_date_epoch,
        };
        let bytes = std::fs::read(sdist).map_err(|source| PipelineError::Io {
            operation: "reading",
            path: sdist.to_owned(),
            source,
        })?;
        let mut members = vec![dockyard_context::Member {
            path: format!("in/{file_name}"),
            bytes,
            executable: false,
        }];
        // The CA bundle where the builder has it (`ca_environment` names it).
        if let Some(ca) = &ca {
            members.push(ca_member(ca)?);
        }
        let mut tar = Vec::new();
        dockyard_context::pack_members(&members, &pack_options, &mut tar)?;
        engine.upload_tar_bytes(&container, "/", tar).await?;
        engine.start_container(&container).await?;
        let mut tail: Vec<String> = Vec::new();
        engine
            .follow_logs(&container, &mut |line| {
                let text = line.text().trim_end().to_owned();
                progress::output(&step, &text);
                keep_tail(&mut tail, &text);
            })
            .await?;
        let exit_code = engine.wait_container(&container).await?;
        if exit_code != 0 {
            return Err(PipelineError::PlatformWheelBuildFailed {
                architecture: architecture.to_owned(),
                package: package.to_owned(),
                base: format!("{} (base.{builder_base})", config.base(builder_base).image),
                exit_code,
                tail,
            });
        }
        let download = folder.join(format!("wheel-{architecture}.tar"));
        engine
            .download_to_file(&container, "/out", &download)
            .await?;
        Ok(download)
    }
    .await;
    let _ = engine.remove_container(&container).await;
    let download = result?;
    // Unpacked beside the cache, then moved in with one rename: a half-written entry is never reused.
    let partial = cached.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let unpack = |path: &Path| -> Result<(), std::io::Error> {
        std::fs::create_dir_all(path)?;
        let file = std::fs::File::open(&download)?;
        let mut archive = tar::Archive::new(std::io::BufReader::new(file));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let entry_path = entry.path()?.into_owned();
            let name = entry_path.file_name().unwrap_or_default().to_owned();
            if entry.header().entry_type().is_file() && name.to_string_lossy().ends_with(".whl") {
                entry.unpack(path.join(name))?;
            }
        }
        Ok(())
    };
    unpack(&partial).map_err(|source| PipelineError::Io {
        operation: "unpacking",
        path: download.clone(),
        source,
    })?;
    let _ = std::fs::remove_file(&download);
    let _ = std::fs::remove_dir_all(cached);
    std::fs::rename(&partial, cached).map_err(|source| PipelineError::Io {
        operation: "moving",
        path: partial.clone(),
        source,
    })?;
    let wheels = wheels_in(cached)?;
    if wheels.is_empty() {
        return Err(PipelineError::PlatformWheelBuildFailed {
            architecture: architecture.to_owned(),
            package: package.to_owned(),
            base: format!("{} (base.{builder_base})", config.base(builder_base).image),
            exit_code: 0,
            tail: vec!["pip wheel wrote no wheel".to_owned()],
        });
    }
    progress::detail(&format!(
        "{package}: built {}",
        wheels
            .iter()
            .map(|wheel| wheel.file_name().unwrap_or_default().to_string_lossy())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(wheels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_holds_sdists_for_a_machine_only_when_its_folder_has_a_file() {
        let folder = tempfile::tempdir().unwrap();
        let context = |members: &[&str]| {
            let path = folder.path().join("context.tar.gz");
            let members: Vec<dockyard_context::Member> = members
                .iter()
                .map(|path| dockyard_context::Member {
                    path: (*path).to_owned(),
                    bytes: b"x".to_vec(),
                    executable: false,
                })
                .collect();
            dockyard_context::write_tarball_file(&path, |out| {
                dockyard_context::pack_members(&members, &PackOptions { mtime: 0 }, out)
            })
            .unwrap();
            path
        };
        let with = context(&["app/manage.py", "sdists-aarch64/crcmod-1.7.tar.gz"]);
        assert!(context_has_sdists(&with, "aarch64").unwrap());
        assert!(!context_has_sdists(&with, "armv7l").unwrap());
        let without = context(&[
            "app/manage.py",
            "wheels-aarch64/PyYAML-6.0.2-cp311-cp311-manylinux_2_17_aarch64.whl",
        ]);
        assert!(!context_has_sdists(&without, "aarch64").unwrap());
    }

    #[test]
    fn the_sdist_of_a_package_is_found_by_normalized_name_and_version() {
        let folder = tempfile::tempdir().unwrap();
        for name in [
            "crcmod-1.7.tar.gz",
            "Foo.Bar-2.0.zip",
            "crcmod-1.6.tar.gz",
            "notes.txt",
        ] {
            std::fs::write(folder.path().join(name), b"").unwrap();
        }
        let missing = |distribution: &str, version: &str| MissingWheel {
            distribution: distribution.to_owned(),
            version: version.to_owned(),
            built: String::new(),
        };
        let found = |wheel: MissingWheel| {
            sdist_of(folder.path(), &wheel)
                .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        };
        assert_eq!(
            found(missing("crcmod", "1.7")).as_deref(),
            Some("crcmod-1.7.tar.gz")
        );
        assert_eq!(
            found(missing("foo-bar", "2.0")).as_deref(),
            Some("Foo.Bar-2.0.zip")
        );
        assert_eq!(found(missing("crcmod", "1.8")), None);
    }
}
