//! Lock files turned into hash-pinned requirements: `poetry.lock` and `Pipfile.lock` become the
//! `name==version ; markers --hash=...` lines pip and uv install with `--require-hashes`, one set for the production
//! image (the main dependencies and the production groups) and one for the tests (those plus the test groups).
//!
//! `uv.lock` is not read here: `uv export --frozen` in the builder container writes its requirements, so uv's own
//! resolution of markers and forks is the one that counts. [`declared_groups`] gives the names a `pyproject.toml`
//! declares, so a configuration can refuse a group that does not exist.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::files::{read_optional, read_toml, table_keys, value_at};
use crate::PythonError;

/// Two hash-pinned requirements files made from one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedRequirements {
    /// The main dependencies and the production groups: what the production image installs.
    pub production: String,
    /// [`LockedRequirements::production`] plus the test groups: what the builder installs to run the tests.
    pub test: String,
}

/// The optional dependency names a `pyproject.toml` declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredGroups {
    /// `[project.optional-dependencies]` names (uv's `--extra`).
    pub extras: Vec<String>,
    /// `[dependency-groups]` names (uv's `--group`).
    pub groups: Vec<String>,
    /// `[tool.poetry.group.<name>]` names (`dev` for the older `[tool.poetry.dev-dependencies]`).
    pub poetry_groups: Vec<String>,
}

/// The extras and groups `relative` (a `pyproject.toml` under `root`) declares.
pub fn declared_groups(root: &Path, relative: &Path) -> Result<DeclaredGroups, PythonError> {
    let Some(pyproject) = read_toml(root, relative)? else {
        return Ok(DeclaredGroups::default());
    };
    let mut poetry_groups = table_keys(&pyproject, &["tool", "poetry", "group"]);
    if value_at(&pyproject, &["tool", "poetry", "dev-dependencies"]).is_some()
        && !poetry_groups.iter().any(|group| group == "dev")
    {
        poetry_groups.push("dev".to_owned());
    }
    Ok(DeclaredGroups {
        extras: table_keys(&pyproject, &["project", "optional-dependencies"]),
        groups: table_keys(&pyproject, &["dependency-groups"]),
        poetry_groups,
    })
}

/// The categories of a `Pipfile.lock` under `root` (`default`, `develop`, and any custom one), sorted.
pub fn pipenv_categories(root: &Path, lock: &Path) -> Result<Vec<String>, PythonError> {
    let text = read_optional(root, lock)?.ok_or_else(|| missing(lock))?;
    let parsed: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|error| PythonError::Json {
            path: lock.to_path_buf(),
            message: error.to_string(),
        })?;
    Ok(parsed
        .into_iter()
        .filter(|(name, entries)| name != "_meta" && entries.is_object())
        .map(|(name, _)| name)
        .collect())
}

/// One pinned requirement: its name, version, environment markers and hashes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pin {
    name: String,
    extras: Vec<String>,
    version: String,
    markers: Option<String>,
    hashes: BTreeSet<String>,
}

/// The requirements file holding `pins`, sorted by name, one requirement a logical line.
fn render(lock: &Path, pins: &[Pin]) -> String {
    let mut text = format!(
        "# Made by Dockyard from {}: hash-pinned, installed with --require-hashes.\n",
        lock.display()
    );
    let mut pins: Vec<&Pin> = pins.iter().collect();
    pins.sort();
    for pin in pins {
        let extras = if pin.extras.is_empty() {
            String::new()
        } else {
            format!("[{}]", pin.extras.join(","))
        };
        let _ = write!(text, "{}{extras}=={}", pin.name, pin.version);
        if let Some(markers) = &pin.markers {
            let _ = write!(text, " ; {markers}");
        }
        for hash in &pin.hashes {
            let _ = write!(text, " \\\n    --hash={hash}");
        }
        text.push('\n');
    }
    text
}

/// `poetry.lock` entries.
#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    /// Lock format 2.1 (Poetry 2): the groups that need the package.
    groups: Option<Vec<String>>,
    /// Lock format 1.x: `main` or `dev`.
    category: Option<String>,
    /// One marker for every group, or one per group.
    markers: Option<PoetryMarkers>,
    #[serde(default)]
    files: Vec<PoetryFile>,
    source: Option<PoetrySource>,
    /// What the package requires: a version string, a table (with `extras`), or a list of tables.
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PoetryMarkers {
    All(String),
    PerGroup(BTreeMap<String, String>),
}

#[derive(Deserialize)]
struct PoetryFile {
    hash: String,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: String,
}

/// The main group of `poetry.lock`, installed everywhere.
const POETRY_MAIN: &str = "main";

/// `poetry.lock` (under `root`) as hash-pinned requirements: the `main` group and `groups` for production, those and
/// `test_groups` for the tests.
pub fn poetry_requirements(
    root: &Path,
    lock: &Path,
    groups: &[String],
    test_groups: &[String],
) -> Result<LockedRequirements, PythonError> {
    let text = read_optional(root, lock)?.ok_or_else(|| missing(lock))?;
    let parsed: PoetryLock = toml::from_str(&text).map_err(|error| PythonError::Toml {
        path: lock.to_path_buf(),
        message: error.message().to_owned(),
    })?;
    let select = |wanted: &[&str]| -> Result<Vec<Pin>, PythonError> {
        let mut pins = Vec::new();
        let extras = requested_extras(&parsed.package, wanted);
        for package in &parsed.package {
            let member_of: Vec<String> = match (&package.groups, &package.category) {
                (Some(groups), _) => groups.clone(),
                (None, Some(category)) => vec![category.clone()],
                (None, None) => {
                    return Err(PythonError::LockUnsupported {
                        lock: lock.to_path_buf(),
                        package: package.name.clone(),
                        reason: "the lock says neither the package's groups nor its category (lock format 2.0)"
                            .to_owned(),
                    })
                }
            };
            let selected: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|group| member_of.iter().any(|member| member == group))
                .collect();
            if selected.is_empty() {
                continue;
            }
            if let Some(source) = &package.source {
                if source.kind != "legacy" {
                    return Err(PythonError::LockUnsupported {
                        lock: lock.to_path_buf(),
                        package: package.name.clone(),
                        reason: format!(
                            "it comes from a {} source, which has no hash to pin",
                            source.kind
                        ),
                    });
                }
            }
            let markers = match &package.markers {
                None => None,
                Some(PoetryMarkers::All(markers)) => Some(markers.clone()),
                Some(PoetryMarkers::PerGroup(per_group)) => {
                    let chosen: BTreeSet<&String> = selected
                        .iter()
                        .filter_map(|group| per_group.get(*group))
                        .collect();
                    // A selected group without a marker needs the package everywhere.
                    if chosen.is_empty()
                        || selected.iter().any(|group| !per_group.contains_key(*group))
                    {
                        None
                    } else if chosen.len() == 1 {
                        chosen.into_iter().next().cloned()
                    } else {
                        Some(
                            chosen
                                .iter()
                                .map(|marker| format!("({marker})"))
                                .collect::<Vec<_>>()
                                .join(" or "),
                        )
                    }
                }
            };
            pins.push(Pin {
                name: package.name.clone(),
                extras: extras
                    .get(&normalise(&package.name))
                    .map(|extras| extras.iter().cloned().collect())
                    .unwrap_or_default(),
                version: package.version.clone(),
                markers,
                hashes: package.files.iter().map(|file| file.hash.clone()).collect(),
            });
        }
        check_hashes(lock, &pins)?;
        Ok(pins)
    };
    let production: Vec<&str> = std::iter::once(POETRY_MAIN)
        .chain(groups.iter().map(String::as_str))
        .collect();
    let test: Vec<&str> = production
        .iter()
        .copied()
        .chain(test_groups.iter().map(String::as_str))
        .collect();
    Ok(LockedRequirements {
        production: render(lock, &select(&production)?),
        test: render(lock, &select(&test)?),
    })
}

/// Whether `package` belongs to one of the `wanted` groups.
fn in_groups(package: &PoetryPackage, wanted: &[&str]) -> bool {
    match (&package.groups, &package.category) {
        (Some(groups), _) => groups.iter().any(|group| wanted.contains(&group.as_str())),
        (None, Some(category)) => wanted.contains(&category.as_str()),
        (None, None) => false,
    }
}

/// The extras the packages of the `wanted` groups ask of their dependencies (`Willow = {extras = ["heif"]}`), by
/// normalised name: pip's `--require-hashes` wants them on the pinned line (`willow[heif]==1.11.0`).
fn requested_extras(
    packages: &[PoetryPackage],
    wanted: &[&str],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut extras: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in packages.iter().filter(|package| in_groups(package, wanted)) {
        for (name, requirement) in &package.dependencies {
            let constraints = match requirement {
                toml::Value::Array(constraints) => constraints.iter().collect(),
                other => vec![other],
            };
            for constraint in constraints {
                let asked = constraint
                    .get("extras")
                    .and_then(toml::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(toml::Value::as_str);
                let optional = constraint
                    .get("optional")
                    .and_then(toml::Value::as_bool)
                    .unwrap_or(false);
                if !optional {
                    extras
                        .entry(normalise(name))
                        .or_default()
                        .extend(asked.map(str::to_owned));
                }
            }
        }
    }
    extras.retain(|_, asked| !asked.is_empty());
    extras
}

/// A package name as PEP 503 compares them: lowercase, runs of `-`, `_` and `.` as one `-`.
fn normalise(name: &str) -> String {
    let mut normalised = String::with_capacity(name.len());
    for character in name.chars() {
        if matches!(character, '-' | '_' | '.') {
            if !normalised.ends_with('-') {
                normalised.push('-');
            }
        } else {
            normalised.push(character.to_ascii_lowercase());
        }
    }
    normalised
}

/// One `Pipfile.lock` entry.
#[derive(Deserialize)]
struct PipenvEntry {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    markers: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    git: Option<String>,
    path: Option<String>,
    file: Option<String>,
}

/// The category of `Pipfile.lock` installed everywhere.
const PIPENV_DEFAULT: &str = "default";

/// `Pipfile.lock` (under `root`) as hash-pinned requirements: the `default` category and `groups` (other
/// categories) for production, those and `test_groups` (usually `develop`) for the tests.
pub fn pipenv_requirements(
    root: &Path,
    lock: &Path,
    groups: &[String],
    test_groups: &[String],
) -> Result<LockedRequirements, PythonError> {
    let text = read_optional(root, lock)?.ok_or_else(|| missing(lock))?;
    let parsed: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|error| PythonError::Json {
            path: lock.to_path_buf(),
            message: error.to_string(),
        })?;
    let select = |wanted: &[&str]| -> Result<Vec<Pin>, PythonError> {
        let mut by_name: BTreeMap<String, Pin> = BTreeMap::new();
        for category in wanted {
            let Some(entries) = parsed.get(*category) else {
                return Err(PythonError::UnknownGroup {
                    file: lock.to_path_buf(),
                    group: (*category).to_owned(),
                    known: parsed
                        .keys()
                        .filter(|key| *key != "_meta")
                        .cloned()
                        .collect(),
                });
            };
            let entries: BTreeMap<String, PipenvEntry> = serde_json::from_value(entries.clone())
                .map_err(|error| PythonError::Json {
                    path: lock.to_path_buf(),
                    message: format!("`{category}`: {error}"),
                })?;
            for (name, entry) in entries {
                let unpinnable = entry
                    .git
                    .as_ref()
                    .map(|_| "a git repository")
                    .or(entry.path.as_ref().map(|_| "a local path"))
                    .or(entry.file.as_ref().map(|_| "a file URL"));
                let version = match (unpinnable, entry.version) {
                    (None, Some(version)) => version.trim_start_matches("==").to_owned(),
                    (Some(origin), _) => {
                        return Err(PythonError::LockUnsupported {
                            lock: lock.to_path_buf(),
                            package: name,
                            reason: format!("it comes from {origin}, which has no hash to pin"),
                        })
                    }
                    (None, None) => {
                        return Err(PythonError::LockUnsupported {
                            lock: lock.to_path_buf(),
                            package: name,
                            reason: "the lock gives it no version".to_owned(),
                        })
                    }
                };
                let pin = Pin {
                    name: name.clone(),
                    extras: entry.extras,
                    version,
                    markers: entry.markers,
                    hashes: entry.hashes.into_iter().collect(),
                };
                by_name.entry(name).or_insert(pin);
            }
        }
        let pins: Vec<Pin> = by_name.into_values().collect();
        check_hashes(lock, &pins)?;
        Ok(pins)
    };
    let production: Vec<&str> = std::iter::once(PIPENV_DEFAULT)
        .chain(groups.iter().map(String::as_str))
        .collect();
    let test: Vec<&str> = production
        .iter()
        .copied()
        .chain(test_groups.iter().map(String::as_str))
        .collect();
    Ok(LockedRequirements {
        production: render(lock, &select(&production)?),
        test: render(lock, &select(&test)?),
    })
}

fn missing(lock: &Path) -> PythonError {
    PythonError::Read {
        path: lock.to_path_buf(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    }
}

/// Every pin must carry at least one hash, or `--require-hashes` refuses the whole file.
fn check_hashes(lock: &Path, pins: &[Pin]) -> Result<(), PythonError> {
    match pins.iter().find(|pin| pin.hashes.is_empty()) {
        Some(pin) => Err(PythonError::LockUnsupported {
            lock: lock.to_path_buf(),
            package: pin.name.clone(),
            reason: "the lock lists no file hash for it".to_owned(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
