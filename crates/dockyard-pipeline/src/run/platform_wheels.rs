//! The wheels another platform's production image installs: the builder's pure-Python wheels, shared, and for each
//! wheel it made for this machine alone, the index's wheel of the same release for that platform's machine, which
//! the builder fetched into `wheels-MACHINE` (`builder_protocol::platform_wheels_dir`), checked here against the
//! lock's hashes. A package with no such wheel is built from its sdist for that platform (`platform_sdists`), or
//! fails that platform's images, naming it; this machine's are made.

use std::path::Path;

use dockyard_python::{normalize_name, PinnedPackage};

use crate::PipelineError;

/// The distribution (normalized) and version a wheel's file name carries: `PyYAML-6.0.2-cp311-...whl` gives
/// `("pyyaml", "6.0.2")`.
fn name_and_version(file_name: &str) -> Option<(String, &str)> {
    let stem = file_name.strip_suffix(".whl")?;
    let mut fields = stem.split('-');
    let distribution = fields.next()?;
    let version = fields.next()?;
    Some((normalize_name(distribution), version))
}

/// The `.whl` files of `folder`, by name, sorted (none when it does not exist).
pub(crate) fn wheel_names(folder: &Path) -> Result<Vec<String>, PipelineError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PipelineError::Io {
                operation: "reading",
                path: folder.to_owned(),
                source,
            })
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".whl"))
        .collect();
    names.sort();
    Ok(names)
}

/// A wheel the builder made for this machine alone whose counterpart for another platform the index does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingWheel {
    /// Its normalized distribution name, `crcmod`.
    pub distribution: String,
    /// Its version.
    pub version: String,
    /// The wheel the builder made, `crcmod-1.7-cp311-cp311-linux_x86_64.whl`.
    pub built: String,
}

impl MissingWheel {
    /// `crcmod 1.7 (the builder made crcmod-1.7-cp311-cp311-linux_x86_64.whl)`, as errors name it.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} {} (the builder made {})",
            self.distribution, self.version, self.built
        )
    }
}

/// The error for wheels `architecture` has none of, naming each package.
pub(crate) fn no_platform_wheel(architecture: &str, missing: &[MissingWheel]) -> PipelineError {
    PipelineError::NoPlatformWheel {
        architecture: architecture.to_owned(),
        machine: dockyard_config::wheel_machine(architecture).to_owned(),
        packages: missing.iter().map(MissingWheel::describe).collect(),
    }
}

/// Checks `path` (a file fetched for `distribution` `version`) against the lock's hashes in `pins`; a package the
/// lock pins no hash of passes (nothing to check, as for the builder's own downloads). The mismatch names it.
pub(crate) fn check_pinned(
    path: &Path,
    distribution: &str,
    version: &str,
    pins: &[&PinnedPackage],
) -> Result<Option<String>, PipelineError> {
    let pinned = pins
        .iter()
        .find(|pin| pin.name == distribution && pin.version == version)
        .filter(|pin| !pin.sha256.is_empty());
    let Some(pin) = pinned else {
        return Ok(None);
    };
    let sha256 = dockyard_context::sha256_file(path)?;
    if pin.sha256.contains(&sha256) {
        return Ok(None);
    }
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    Ok(Some(format!("{distribution}=={version} ({file})")))
}

/// Copies into `into` (made here) the wheels `architecture`'s image installs, from the builder's `wheels` and the
/// fetched `fetched` (`wheels-aarch64`); `pins` are the lock's packages with their accepted hashes (none: nothing
/// to check, as for the builder's own downloads). Returns the wheels the index has no counterpart of, for the
/// caller to build from their sdists or to fail with.
pub(crate) fn select(
    wheels: &Path,
    fetched: &Path,
    architecture: &str,
    pins: &[&PinnedPackage],
    into: &Path,
) -> Result<Vec<MissingWheel>, PipelineError> {
    std::fs::create_dir_all(into).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: into.to_owned(),
        source,
    })?;
    let available = wheel_names(fetched)?;
    let (mut missing, mut mismatched) = (Vec::new(), Vec::new());
    for name in wheel_names(wheels)? {
        let source = if name.ends_with("-none-any.whl") {
            wheels.join(&name)
        } else {
            let (distribution, version) = name_and_version(&name)
                .map(|(distribution, version)| (distribution, version.to_owned()))
                .unwrap_or_else(|| (name.clone(), String::new()));
            let found = available.iter().find(|candidate| {
                name_and_version(candidate).is_some_and(|(other, other_version)| {
                    other == distribution && other_version == version
                })
            });
            let Some(found) = found else {
                missing.push(MissingWheel {
                    distribution,
                    version,
                    built: name,
                });
                continue;
            };
            let path = fetched.join(found);
            if let Some(mismatch) = check_pinned(&path, &distribution, &version, pins)? {
                mismatched.push(mismatch);
                continue;
            }
            path
        };
        let target = into.join(source.file_name().unwrap_or_default());
        std::fs::copy(&source, &target).map_err(|source_error| PipelineError::Io {
            operation: "copying",
            path: source.clone(),
            source: source_error,
        })?;
    }
    if !mismatched.is_empty() {
        return Err(PipelineError::HashMismatch {
            packages: mismatched,
            tail: vec![format!(
                "the {architecture} wheels fetched from the index beside this machine's"
            )],
        });
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PURE: &str = "Django-5.2.19-py3-none-any.whl";
    const X86: &str = "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl";
    const ARM: &str = "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_aarch64.whl";

    /// `select` for arm64 over the builder's `wheels` and the fetched `fetched` (name, bytes), with PyYAML 6.0.2
    /// pinned to the sha256 of `pinned` when given; the names selected.
    fn check(
        wheels: &[(&str, &[u8])],
        fetched: &[(&str, &[u8])],
        pinned: Option<&[u8]>,
    ) -> Result<Vec<String>, PipelineError> {
        let root = tempfile::tempdir().unwrap();
        let folder = |name: &str, files: &[(&str, &[u8])]| {
            let folder = root.path().join(name);
            std::fs::create_dir_all(&folder).unwrap();
            for (file, bytes) in files {
                std::fs::write(folder.join(file), bytes).unwrap();
            }
            folder
        };
        let (wheels, fetched) = (folder("wheels", wheels), folder("wheels-aarch64", fetched));
        let pins: Vec<PinnedPackage> = pinned
            .map(|bytes| PinnedPackage {
                name: "pyyaml".to_owned(),
                version: "6.0.2".to_owned(),
                sha256: vec![dockyard_context::sha256_hex(bytes)],
            })
            .into_iter()
            .collect();
        let pins: Vec<&PinnedPackage> = pins.iter().collect();
        let into = root.path().join("arm64");
        let missing = select(&wheels, &fetched, "arm64", &pins, &into)?;
        if !missing.is_empty() {
            return Err(no_platform_wheel("arm64", &missing));
        }
        Ok(wheel_names(&into).unwrap())
    }

    #[test]
    fn pure_wheels_are_shared_and_machine_wheels_replaced_by_the_fetched_ones() {
        let selected = check(
            &[(PURE, b"django"), (X86, b"x86")],
            &[(ARM, b"arm")],
            Some(b"arm"),
        );
        assert_eq!(selected.unwrap(), [PURE, ARM]);
    }

    #[test]
    fn a_wheel_without_a_fetched_counterpart_names_the_package_and_the_platform() {
        let error = check(
            &[("crcmod-1.7-cp311-cp311-linux_x86_64.whl", b"x86")],
            &[],
            None,
        )
        .unwrap_err();
        let PipelineError::NoPlatformWheel {
            architecture,
            machine,
            packages,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(
            (architecture.as_str(), machine.as_str()),
            ("arm64", "aarch64")
        );
        assert_eq!(
            packages,
            &["crcmod 1.7 (the builder made crcmod-1.7-cp311-cp311-linux_x86_64.whl)"]
        );
        assert!(
            error
                .to_string()
                .starts_with("no arm64 wheel of crcmod 1.7"),
            "{error}"
        );
    }

    #[test]
    fn a_fetched_wheel_the_lock_does_not_pin_is_a_hash_mismatch() {
        let error = check(&[(X86, b"x86")], &[(ARM, b"tampered")], Some(b"arm")).unwrap_err();
        assert!(
            matches!(&error, PipelineError::HashMismatch { packages, .. } if packages[0].starts_with("pyyaml==6.0.2")),
            "{error:?}"
        );
    }
}
