//! Which dependency format a project uses, and the files and groups that hold it.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::files::{read_toml, table_keys, value_at};
use crate::requirements::{self, RequirementsFile};
use crate::PythonError;

/// A project's dependency format with the files it reads (relative to the project folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyFormat {
    /// pip requirements files, every one found with its includes.
    Requirements(Vec<RequirementsFile>),
    /// `pyproject.toml` + `uv.lock`, with the optional extras and dependency groups the project declares.
    Uv {
        /// `pyproject.toml`.
        pyproject: PathBuf,
        /// `uv.lock`.
        lock: PathBuf,
        /// `[project.optional-dependencies]` names.
        extras: Vec<String>,
        /// `[dependency-groups]` names.
        groups: Vec<String>,
    },
    /// `pyproject.toml` + `poetry.lock`, with the groups beside the main dependencies.
    Poetry {
        /// `pyproject.toml`.
        pyproject: PathBuf,
        /// `poetry.lock`.
        lock: PathBuf,
        /// `[tool.poetry.group.<name>]` names (`dev` for the older `[tool.poetry.dev-dependencies]`).
        groups: Vec<String>,
    },
    /// `Pipfile.lock` (with its `Pipfile` when there is one).
    Pipenv {
        /// `Pipfile`, when present.
        pipfile: Option<PathBuf>,
        /// `Pipfile.lock`.
        lock: PathBuf,
    },
    /// `pyproject.toml` declaring dependencies without any lock file.
    PyprojectWithoutLock {
        /// `pyproject.toml`.
        pyproject: PathBuf,
    },
}

impl DependencyFormat {
    /// The format's short name: `requirements`, `uv`, `poetry`, `pipenv` or `pyproject`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Requirements(_) => "requirements",
            Self::Uv { .. } => "uv",
            Self::Poetry { .. } => "poetry",
            Self::Pipenv { .. } => "pipenv",
            Self::PyprojectWithoutLock { .. } => "pyproject",
        }
    }

    /// Every file the format reads, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = match self {
            Self::Requirements(files) => files.iter().map(|file| file.path.clone()).collect(),
            Self::Uv {
                pyproject, lock, ..
            }
            | Self::Poetry {
                pyproject, lock, ..
            } => {
                vec![pyproject.clone(), lock.clone()]
            }
            Self::Pipenv { pipfile, lock } => pipfile.iter().chain([lock]).cloned().collect(),
            Self::PyprojectWithoutLock { pyproject } => vec![pyproject.clone()],
        };
        files.sort();
        files
    }

    /// Whether every installed version is pinned with a hash: always for lock files, for requirements files only
    /// when each of them carries `--hash` pins.
    pub fn hash_pinned(&self) -> bool {
        match self {
            Self::Requirements(files) => !files.is_empty() && files.iter().all(|file| file.hashes),
            Self::Uv { .. } | Self::Poetry { .. } | Self::Pipenv { .. } => true,
            Self::PyprojectWithoutLock { .. } => false,
        }
    }
}

impl fmt::Display for DependencyFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<String> = self
            .files()
            .iter()
            .map(|file| file.display().to_string())
            .collect();
        write!(formatter, "{}: {}", self.name(), files.join(" + "))?;
        match self {
            Self::Uv { extras, groups, .. } => {
                if !extras.is_empty() {
                    write!(formatter, "; extras {}", extras.join(", "))?;
                }
                if !groups.is_empty() {
                    write!(formatter, "; groups {}", groups.join(", "))?;
                }
            }
            Self::Poetry { groups, .. } if !groups.is_empty() => {
                write!(formatter, "; groups {}", groups.join(", "))?;
            }
            _ => {}
        }
        if matches!(self, Self::Requirements(_)) && self.hash_pinned() {
            write!(formatter, "; hash-pinned")?;
        }
        Ok(())
    }
}

/// The dependency format of the project in `root`: a lock file first (`uv.lock`, `poetry.lock`, `Pipfile.lock`),
/// then requirements files, then a `pyproject.toml` that declares dependencies; `None` when there is none of these.
pub fn detect_dependencies(root: &Path) -> Result<Option<DependencyFormat>, PythonError> {
    let pyproject_path = PathBuf::from("pyproject.toml");
    let pyproject = read_toml(root, &pyproject_path)?;
    let exists = |name: &str| root.join(name).is_file();
    if let Some(pyproject) = &pyproject {
        if exists("uv.lock") {
            return Ok(Some(DependencyFormat::Uv {
                pyproject: pyproject_path,
                lock: PathBuf::from("uv.lock"),
                extras: table_keys(pyproject, &["project", "optional-dependencies"]),
                groups: table_keys(pyproject, &["dependency-groups"]),
            }));
        }
        if exists("poetry.lock") {
            let mut groups = table_keys(pyproject, &["tool", "poetry", "group"]);
            if value_at(pyproject, &["tool", "poetry", "dev-dependencies"]).is_some()
                && !groups.iter().any(|group| group == "dev")
            {
                groups.push("dev".to_owned());
            }
            return Ok(Some(DependencyFormat::Poetry {
                pyproject: pyproject_path,
                lock: PathBuf::from("poetry.lock"),
                groups,
            }));
        }
    }
    if exists("Pipfile.lock") {
        return Ok(Some(DependencyFormat::Pipenv {
            pipfile: exists("Pipfile").then(|| PathBuf::from("Pipfile")),
            lock: PathBuf::from("Pipfile.lock"),
        }));
    }
    let requirements = requirements::find(root)?;
    if !requirements.is_empty() {
        return Ok(Some(DependencyFormat::Requirements(requirements)));
    }
    let declares = |table: &toml::Table| {
        value_at(table, &["project", "dependencies"]).is_some()
            || value_at(table, &["tool", "poetry", "dependencies"]).is_some()
    };
    Ok(pyproject
        .filter(declares)
        .map(|_| DependencyFormat::PyprojectWithoutLock {
            pyproject: pyproject_path,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` into a fresh folder and compares the detected format, rendered, with `expected`.
    fn check(files: &[(&str, &str)], expected: &str) {
        let folder = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = folder.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let rendered = match detect_dependencies(folder.path()) {
            Ok(Some(format)) => format.to_string(),
            Ok(None) => "none".to_owned(),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected, "files: {files:?}");
    }

    const UV_PROJECT: &str = "[project]\nname = \"x\"\ndependencies = [\"django\"]\n\
        [project.optional-dependencies]\ntest = [\"pytest\"]\ndev = [\"ruff\"]\n[dependency-groups]\nlint = [\"ruff\"]\n";
    const POETRY_PROJECT: &str = "[tool.poetry.dependencies]\npython = \">=3.11\"\n\
        [tool.poetry.group.dev.dependencies]\nruff = \"*\"\n[tool.poetry.group.production.dependencies]\ngunicorn = \"*\"\n";

    #[test]
    fn formats() {
        check(&[], "none");
        check(
            &[("pyproject.toml", "[tool.ruff]\nline-length = 79\n")],
            "none",
        );
        check(
            &[("pyproject.toml", UV_PROJECT), ("uv.lock", "version = 1\n")],
            "uv: pyproject.toml + uv.lock; extras dev, test; groups lint",
        );
        check(
            &[("pyproject.toml", POETRY_PROJECT), ("poetry.lock", "")],
            "poetry: poetry.lock + pyproject.toml; groups dev, production",
        );
        check(
            &[
                (
                    "pyproject.toml",
                    "[tool.poetry.dependencies]\n[tool.poetry.dev-dependencies]\n",
                ),
                ("poetry.lock", ""),
            ],
            "poetry: poetry.lock + pyproject.toml; groups dev",
        );
        check(
            &[("Pipfile", ""), ("Pipfile.lock", "{}")],
            "pipenv: Pipfile + Pipfile.lock",
        );
        check(&[("Pipfile.lock", "{}")], "pipenv: Pipfile.lock");
        check(
            &[
                ("pyproject.toml", "[tool.ruff]\n"),
                ("requirements.txt", "-r requirements/base.txt\n"),
                ("requirements/base.txt", "django\n"),
            ],
            "requirements: requirements/base.txt + requirements.txt",
        );
        check(
            &[("requirements.txt", "django==5.2 --hash=sha256:abc\n")],
            "requirements: requirements.txt; hash-pinned",
        );
        check(
            &[("pyproject.toml", UV_PROJECT)],
            "pyproject: pyproject.toml",
        );
        check(
            &[("pyproject.toml", "[project\n")],
            "error: pyproject.toml is not valid TOML: unclosed table, expected `]`",
        );
    }
}
