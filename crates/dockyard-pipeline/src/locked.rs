//! The locked set: what the builder installs, computed at plan time from `[dependencies]` (or `[app] requirements`).
//!
//! Every format ends as requirements files the builder reads from its dependencies folder
//! (`builder_protocol::DEPS_DIR`): requirements files travel as they are, with every `-r`/`-c` include they reach;
//! `poetry.lock` and `Pipfile.lock` become hash-pinned files here, in Rust; `pyproject.toml` + `uv.lock` travel as they
//! are and `uv export --frozen` in the builder writes their requirements. The set's digest is an input of the export.

use std::path::{Path, PathBuf};

use dockyard_config::{Dependencies, DeployConfig};
use dockyard_context::Member;

use crate::digest::sha256_hex;
use crate::PipelineError;

/// The folder, inside the dependencies folder, of the requirements Dockyard writes from a lock.
const WRITTEN: &str = ".dockyard";

/// What the builder installs and how it reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedSet {
    /// Files uploaded to the builder's dependencies folder, by their path there (relative to deploy.toml's folder
    /// for the project's own files, so includes keep resolving).
    pub files: Vec<Member>,
    /// How the builder turns them into the requirements it installs.
    pub install: Install,
    /// sha256 over the files and [`LockedSet::install`]: an input of the export.
    pub sha256: String,
    /// One line for the plan: the format, its files and groups.
    pub summary: String,
    /// The packages the lock pins with the hashes of the artifacts it accepts, per lock file (hash-pinned
    /// production requirements, `poetry.lock`, `Pipfile.lock`, `uv.lock`); empty for unhashed requirements.
    /// The provenance records them.
    pub pins: Vec<LockPins>,
}

/// The pinned packages of one lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPins {
    /// The lock file, relative to deploy.toml's folder.
    pub file: String,
    /// Its packages, with every sha256 it accepts.
    pub packages: Vec<dockyard_python::PinnedPackage>,
}

/// How the builder reads the uploaded files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// Requirements files, relative to the dependencies folder.
    Requirements {
        /// For the production image (and the tests).
        production: Vec<String>,
        /// For the tests only, installed in the builder after the production ones.
        test: Vec<String>,
        /// Whether the files pin `--hash`es, so every download is checked (`--require-hashes`).
        hashes: bool,
    },
    /// `uv export --frozen` of the project in `project` (relative to the dependencies folder), with these
    /// `--extra`/`--group` arguments for production, and those plus the test ones for the tests.
    UvExport {
        /// The folder holding `pyproject.toml` and `uv.lock`, `.` for the top.
        project: String,
        /// `--extra NAME` / `--group NAME` for the production image.
        production_args: Vec<String>,
        /// The production arguments plus the test extras and groups.
        test_args: Vec<String>,
    },
}

impl LockedSet {
    /// The builder script's environment for this set (`NAME=value`).
    pub fn environment(&self) -> Vec<String> {
        match &self.install {
            Install::Requirements {
                production,
                test,
                hashes,
            } => vec![
                format!("DOCKYARD_REQUIREMENTS={}", production.join(" ")),
                format!("DOCKYARD_TEST_REQUIREMENTS={}", test.join(" ")),
                format!("DOCKYARD_REQUIRE_HASHES={}", u8::from(*hashes)),
            ],
            Install::UvExport {
                project,
                production_args,
                test_args,
            } => vec![
                format!("DOCKYARD_UV_PROJECT={project}"),
                format!("DOCKYARD_UV_EXPORT_ARGS={}", production_args.join(" ")),
                format!("DOCKYARD_UV_TEST_EXPORT_ARGS={}", test_args.join(" ")),
                "DOCKYARD_REQUIRE_HASHES=1".to_owned(),
            ],
        }
    }
}

/// The locked set of `config`'s dependencies. Reads the files it names; runs nothing.
pub fn lock(config: &DeployConfig) -> Result<LockedSet, PipelineError> {
    let root = &config.root;
    let relative = |path: &Path| -> PathBuf {
        path.strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut pins = Vec::new();
    let (files, install, summary) = match &config.dependencies {
        Dependencies::Requirements { files, test_files } => {
            let production: Vec<PathBuf> = files.iter().map(|file| relative(file)).collect();
            let test: Vec<PathBuf> = test_files.iter().map(|file| relative(file)).collect();
            let closure = dockyard_python::requirements_closure(
                root,
                &production.iter().chain(&test).cloned().collect::<Vec<_>>(),
            )?;
            let production_closure = dockyard_python::requirements_closure(root, &production)?;
            let hashes = production_closure.iter().any(|file| file.hashes);
            let members = closure
                .iter()
                .map(|file| read_member(root, &file.path))
                .collect::<Result<Vec<_>, _>>()?;
            for file in production_closure.iter().filter(|file| file.hashes) {
                let path = slashes(&file.path);
                if let Some(member) = members.iter().find(|member| member.path == path) {
                    let text = String::from_utf8_lossy(&member.bytes);
                    pins.push(LockPins {
                        packages: dockyard_python::hash_pinned_requirements(&text),
                        file: path,
                    });
                }
            }
            let summary = format!(
                "requirements: {}{}{}",
                listing(&production),
                if test.is_empty() {
                    String::new()
                } else {
                    format!("; tests {}", listing(&test))
                },
                if hashes { "; hash-pinned" } else { "" }
            );
            (
                members,
                Install::Requirements {
                    production: production.iter().map(|path| slashes(path)).collect(),
                    test: test.iter().map(|path| slashes(path)).collect(),
                    hashes,
                },
                summary,
            )
        }
        Dependencies::Uv {
            pyproject,
            lock,
            extras,
            groups,
            test_extras,
            test_groups,
        } => {
            let arguments = |extras: &[String], groups: &[String]| -> Vec<String> {
                extras
                    .iter()
                    .map(|extra| format!("--extra {extra}"))
                    .chain(groups.iter().map(|group| format!("--group {group}")))
                    .collect()
            };
            let production_args = arguments(extras, groups);
            let mut test_args = production_args.clone();
            test_args.extend(arguments(test_extras, test_groups));
            let (pyproject, lock) = (relative(pyproject), relative(lock));
            let project = pyproject
                .parent()
                .map(slashes)
                .filter(|folder| !folder.is_empty())
                .unwrap_or_else(|| ".".to_owned());
            let summary = format!(
                "uv: {} + {}{}",
                slashes(&pyproject),
                slashes(&lock),
                selection(
                    &extras.iter().chain(groups).cloned().collect::<Vec<_>>(),
                    &test_extras
                        .iter()
                        .chain(test_groups)
                        .cloned()
                        .collect::<Vec<_>>()
                )
            );
            let lock_member = read_member(root, &lock)?;
            pins.push(LockPins {
                file: lock_member.path.clone(),
                packages: dockyard_python::uv_lock_pins(
                    &String::from_utf8_lossy(&lock_member.bytes),
                    &lock,
                )?,
            });
            (
                vec![read_member(root, &pyproject)?, lock_member],
                Install::UvExport {
                    project,
                    production_args,
                    test_args,
                },
                summary,
            )
        }
        Dependencies::Poetry {
            lock,
            groups,
            test_groups,
            ..
        } => {
            let lock = relative(lock);
            let locked = dockyard_python::poetry_requirements(root, &lock, groups, test_groups)?;
            pins.push(LockPins {
                file: slashes(&lock),
                packages: dockyard_python::hash_pinned_requirements(&locked.production),
            });
            written(&lock, locked, selection(groups, test_groups))
        }
        Dependencies::Pipenv {
            lock,
            groups,
            test_groups,
        } => {
            let lock = relative(lock);
            let locked = dockyard_python::pipenv_requirements(root, &lock, groups, test_groups)?;
            pins.push(LockPins {
                file: slashes(&lock),
                packages: dockyard_python::hash_pinned_requirements(&locked.production),
            });
            written(&lock, locked, selection(groups, test_groups))
        }
    };
    let mut hashed = Vec::new();
    for member in &files {
        hashed.extend_from_slice(member.path.as_bytes());
        hashed.push(0);
        hashed.extend_from_slice(sha256_hex(&member.bytes).as_bytes());
        hashed.push(b'\n');
    }
    hashed.extend_from_slice(format!("{install:?}").as_bytes());
    Ok(LockedSet {
        files,
        install,
        sha256: sha256_hex(&hashed),
        summary,
        pins,
    })
}

/// The set for requirements Dockyard wrote from `lock`.
fn written(
    lock: &Path,
    locked: dockyard_python::LockedRequirements,
    selection: String,
) -> (Vec<Member>, Install, String) {
    let production = format!("{WRITTEN}/production.txt");
    let test = format!("{WRITTEN}/test.txt");
    let members = vec![
        Member {
            path: production.clone(),
            bytes: locked.production.into_bytes(),
            executable: false,
        },
        Member {
            path: test.clone(),
            bytes: locked.test.into_bytes(),
            executable: false,
        },
    ];
    let summary = format!("{} (hash-pinned){selection}", slashes(lock));
    (
        members,
        Install::Requirements {
            production: vec![production],
            test: vec![test],
            hashes: true,
        },
        summary,
    )
}

fn read_member(root: &Path, relative: &Path) -> Result<Member, PipelineError> {
    let path = root.join(relative);
    let bytes = std::fs::read(&path).map_err(|source| PipelineError::Io {
        operation: "reading",
        path,
        source,
    })?;
    Ok(Member {
        path: slashes(relative),
        bytes,
        executable: false,
    })
}

fn selection(production: &[String], test: &[String]) -> String {
    let mut text = String::new();
    if !production.is_empty() {
        text.push_str(&format!("; groups {}", production.join(", ")));
    }
    if !test.is_empty() {
        text.push_str(&format!("; test groups {}", test.join(", ")));
    }
    text
}

fn listing(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| slashes(path))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn slashes(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests;
