//! The Python versions a project asks for: `requires-python`, Poetry's `python` dependency, `.python-version`,
//! `runtime.txt` and Pipfile's `[requires]`, each as a version specifier that answers "does 3.11 satisfy it".

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use pep440_rs::{Version, VersionSpecifiers};
use regex::Regex;

use crate::files::{read_optional, read_toml, value_at};
use crate::PythonError;

/// A CPython release, `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    /// 3.
    pub major: u64,
    /// 11 in 3.11.2.
    pub minor: u64,
    /// 2 in 3.11.2.
    pub patch: u64,
}

impl PythonVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The names of the files a Python version request is read from, in [`PythonSource`] order.
pub const REQUEST_FILES: [&str; 4] = [
    "pyproject.toml",
    ".python-version",
    "runtime.txt",
    "Pipfile",
];

/// Where a Python version request was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PythonSource {
    /// `[project] requires-python` in `pyproject.toml`.
    RequiresPython,
    /// `[tool.poetry.dependencies] python` in `pyproject.toml`, in Poetry's constraint syntax.
    PoetryDependency,
    /// `.python-version` (pyenv, uv).
    PythonVersionFile,
    /// `runtime.txt` (Heroku), `python-3.12.4`.
    RuntimeTxt,
    /// `[requires] python_version` or `python_full_version` in `Pipfile`.
    Pipfile,
}

impl PythonSource {
    /// How the source is named in messages, e.g. `pyproject.toml requires-python`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::RequiresPython => "pyproject.toml requires-python",
            Self::PoetryDependency => "pyproject.toml [tool.poetry.dependencies] python",
            Self::PythonVersionFile => ".python-version",
            Self::RuntimeTxt => "runtime.txt",
            Self::Pipfile => "Pipfile [requires]",
        }
    }
}

/// One request for a Python version, as written and as a specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonRequest {
    /// Where it was written.
    pub source: PythonSource,
    /// That file, relative to the project folder.
    pub file: PathBuf,
    /// The request as written, trimmed.
    pub written: String,
    /// Any of these specifier sets satisfied satisfies the request (Poetry's `||`).
    alternatives: Vec<VersionSpecifiers>,
}

impl PythonRequest {
    /// Whether `version` satisfies the request.
    pub fn allows(&self, version: PythonVersion) -> bool {
        let version = Version::new([version.major, version.minor, version.patch]);
        self.alternatives
            .iter()
            .any(|specifiers| specifiers.contains(&version))
    }

    /// The request as PEP 440 specifiers (alternatives joined with ` || `).
    pub fn specifiers(&self) -> String {
        let alternatives: Vec<String> = self
            .alternatives
            .iter()
            .map(|specifiers| match specifiers.to_string() {
                any if any.is_empty() => "any".to_owned(),
                specifiers => specifiers,
            })
            .collect();
        alternatives.join(" || ")
    }
}

impl fmt::Display for PythonRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} `{}` ({})",
            self.source.describe(),
            self.written,
            self.specifiers()
        )
    }
}

/// Every Python version request of the project in `root`, in [`PythonSource`] order; empty when it asks for none.
pub fn python_requests(root: &Path) -> Result<Vec<PythonRequest>, PythonError> {
    let mut requests = Vec::new();
    let pyproject_path = Path::new(REQUEST_FILES[0]);
    if let Some(pyproject) = read_toml(root, pyproject_path)? {
        let requested = |path: &[&str]| {
            value_at(&pyproject, path)
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        };
        if let Some(written) = requested(&["project", "requires-python"]) {
            requests.push(request(
                PythonSource::RequiresPython,
                pyproject_path,
                &written,
                pep440,
            )?);
        }
        if let Some(written) = requested(&["tool", "poetry", "dependencies", "python"]) {
            requests.push(request(
                PythonSource::PoetryDependency,
                pyproject_path,
                &written,
                poetry,
            )?);
        }
    }
    let python_version_path = Path::new(REQUEST_FILES[1]);
    if let Some(text) = read_optional(root, python_version_path)? {
        let written = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'))
            .unwrap_or_default();
        let version = written
            .strip_prefix("cpython-")
            .or_else(|| written.strip_prefix("cpython@"))
            .or_else(|| written.strip_prefix("python"))
            .unwrap_or(written);
        requests.push(request(
            PythonSource::PythonVersionFile,
            python_version_path,
            written,
            |_| bare_version(version),
        )?);
    }
    let runtime_path = Path::new(REQUEST_FILES[2]);
    if let Some(text) = read_optional(root, runtime_path)? {
        let written = text.trim();
        requests.push(request(
            PythonSource::RuntimeTxt,
            runtime_path,
            written,
            |written| bare_version(written.strip_prefix("python-")?),
        )?);
    }
    let pipfile_path = Path::new(REQUEST_FILES[3]);
    if let Some(pipfile) = read_toml(root, pipfile_path)? {
        let requested = ["python_full_version", "python_version"]
            .iter()
            .find_map(|key| value_at(&pipfile, &["requires", key]).and_then(toml::Value::as_str));
        if let Some(written) = requested {
            requests.push(request(
                PythonSource::Pipfile,
                pipfile_path,
                written,
                bare_version,
            )?);
        }
    }
    Ok(requests)
}

/// A request from `written`, read by `parse`; an error naming the file when `parse` cannot read it.
fn request(
    source: PythonSource,
    file: &Path,
    written: &str,
    parse: impl Fn(&str) -> Option<Vec<VersionSpecifiers>>,
) -> Result<PythonRequest, PythonError> {
    let written = written.trim();
    parse(written)
        .map(|alternatives| PythonRequest {
            source,
            file: file.to_path_buf(),
            written: written.to_owned(),
            alternatives,
        })
        .ok_or_else(|| PythonError::UnrecognisedPythonRequest {
            file: file.to_path_buf(),
            written: written.to_owned(),
        })
}

/// PEP 440 specifiers, as `requires-python` holds them.
fn pep440(written: &str) -> Option<Vec<VersionSpecifiers>> {
    VersionSpecifiers::from_str(written)
        .ok()
        .map(|specifiers| vec![specifiers])
}

/// `3`, `3.12` or `3.12.4`: the release line or the exact release.
fn bare_version(written: &str) -> Option<Vec<VersionSpecifiers>> {
    let parts = release_parts(written)?;
    let specifier = match parts.len() {
        1 | 2 => format!("=={written}.*"),
        _ => format!("=={written}"),
    };
    pep440(&specifier)
}

/// The numbers of `1`, `1.2` or `1.2.3`; `None` for anything else.
fn release_parts(written: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = written.split('.').map(|part| part.parse().ok()).collect();
    parts.filter(|parts| (1..=3).contains(&parts.len()))
}

/// One clause of a Poetry constraint: an optional operator and a version (maybe with `*`).
static POETRY_CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\^|~=|~|==|!=|<=|>=|<|>|=)?\s*([0-9][0-9.*]*)$").expect("a valid regex")
});

/// Poetry's constraint syntax: `^3.11`, `~3.11`, `3.11.*`, `>=3.11,<4`, `>=3.11 <4`, alternatives with `||`.
fn poetry(written: &str) -> Option<Vec<VersionSpecifiers>> {
    written
        .split("||")
        .map(|alternative| {
            let mut specifiers = Vec::new();
            let normalised = alternative.replace(',', " ");
            let mut words = normalised.split_whitespace().peekable();
            while let Some(word) = words.next() {
                let mut clause = word.to_owned();
                if POETRY_CLAUSE
                    .captures(&clause)
                    .is_some_and(|captures| captures.get(2).is_none())
                    || matches!(
                        word,
                        "^" | "~" | "~=" | "==" | "!=" | "<=" | ">=" | "<" | ">" | "="
                    )
                {
                    clause.push_str(words.next()?);
                }
                if clause == "*" {
                    continue;
                }
                specifiers.push(poetry_clause(&clause)?);
            }
            VersionSpecifiers::from_str(&specifiers.join(",")).ok()
        })
        .collect()
}

/// One Poetry clause as PEP 440 specifiers.
fn poetry_clause(clause: &str) -> Option<String> {
    let captures = POETRY_CLAUSE.captures(clause)?;
    let operator = captures.get(1).map_or("", |operator| operator.as_str());
    let version = captures.get(2)?.as_str();
    let parts = || release_parts(version);
    Some(match operator {
        "^" => {
            let parts = parts()?;
            let first_non_zero = parts
                .iter()
                .position(|part| *part != 0)
                .unwrap_or(parts.len() - 1);
            let mut upper: Vec<u64> = parts[..=first_non_zero].to_vec();
            *upper.last_mut()? += 1;
            format!(">={version},<{}", join(&upper))
        }
        "~" => {
            let parts = parts()?;
            let mut upper: Vec<u64> = parts[..parts.len().min(2)].to_vec();
            if upper.len() == 1 {
                upper[0] += 1;
            } else {
                upper[1] += 1;
            }
            format!(">={version},<{}", join(&upper))
        }
        "" | "=" | "==" if !version.contains('*') => match parts()?.len() {
            1 | 2 => format!("=={version}.*"),
            _ => format!("=={version}"),
        },
        "" | "=" => format!("=={version}"),
        operator => format!("{operator}{version}"),
    })
}

fn join(parts: &[u64]) -> String {
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTHON_3_11: PythonVersion = PythonVersion::new(3, 11, 2);
    const PYTHON_3_12: PythonVersion = PythonVersion::new(3, 12, 4);
    const PYTHON_3_13: PythonVersion = PythonVersion::new(3, 13, 5);

    /// Writes `file` with `text` into a fresh folder; renders each request with which of 3.11.2, 3.12.4 and
    /// 3.13.5 satisfy it.
    fn check(file: &str, text: &str, expected: &str) {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join(file), text).unwrap();
        let rendered = match python_requests(folder.path()) {
            Ok(requests) => requests
                .iter()
                .map(|request| {
                    let allowed: Vec<String> = [PYTHON_3_11, PYTHON_3_12, PYTHON_3_13]
                        .into_iter()
                        .filter(|version| request.allows(*version))
                        .map(|version| version.to_string())
                        .collect();
                    format!("{request} allows [{}]", allowed.join(", "))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected, "{file}: {text:?}");
    }

    #[test]
    fn requests_and_what_satisfies_them() {
        let pyproject =
            |requires: &str| format!("[project]\nname = \"x\"\nrequires-python = \"{requires}\"\n");
        check(
            "pyproject.toml",
            &pyproject(">=3.11"),
            "pyproject.toml requires-python `>=3.11` (>=3.11) allows [3.11.2, 3.12.4, 3.13.5]",
        );
        check(
            "pyproject.toml",
            &pyproject(">=3.13"),
            "pyproject.toml requires-python `>=3.13` (>=3.13) allows [3.13.5]",
        );
        check(
            "pyproject.toml",
            &pyproject(">=3.11,<3.13"),
            "pyproject.toml requires-python `>=3.11,<3.13` (>=3.11, <3.13) allows [3.11.2, 3.12.4]",
        );
        check(
            "pyproject.toml",
            &pyproject("~=3.12.0"),
            "pyproject.toml requires-python `~=3.12.0` (~=3.12.0) allows [3.12.4]",
        );
        check(
            "pyproject.toml",
            &pyproject("3.11"),
            "error: pyproject.toml: `3.11` is not a Python version request Dockyard understands",
        );
        check("pyproject.toml", "[tool.ruff]\n", "");
        let poetry = |python: &str| format!("[tool.poetry.dependencies]\npython = \"{python}\"\n");
        check("pyproject.toml", &poetry(">=3.11"), "pyproject.toml [tool.poetry.dependencies] python `>=3.11` (>=3.11) allows [3.11.2, 3.12.4, 3.13.5]");
        check("pyproject.toml", &poetry("^3.11"), "pyproject.toml [tool.poetry.dependencies] python `^3.11` (>=3.11, <4) allows [3.11.2, 3.12.4, 3.13.5]");
        check("pyproject.toml", &poetry("~3.12"), "pyproject.toml [tool.poetry.dependencies] python `~3.12` (>=3.12, <3.13) allows [3.12.4]");
        check(
            "pyproject.toml",
            &poetry("3.11"),
            "pyproject.toml [tool.poetry.dependencies] python `3.11` (==3.11.*) allows [3.11.2]",
        );
        check("pyproject.toml", &poetry(">=3.11 <3.13"), "pyproject.toml [tool.poetry.dependencies] python `>=3.11 <3.13` (>=3.11, <3.13) allows [3.11.2, 3.12.4]");
        check("pyproject.toml", &poetry("~3.11 || ^3.13"), "pyproject.toml [tool.poetry.dependencies] python `~3.11 || ^3.13` (>=3.11, <3.12 || >=3.13, <4) allows [3.11.2, 3.13.5]");
        check("pyproject.toml", &poetry("*"), "pyproject.toml [tool.poetry.dependencies] python `*` (any) allows [3.11.2, 3.12.4, 3.13.5]");
        check(
            "pyproject.toml",
            &poetry("banana"),
            "error: pyproject.toml: `banana` is not a Python version request Dockyard understands",
        );
        check(
            ".python-version",
            "3.11\n",
            ".python-version `3.11` (==3.11.*) allows [3.11.2]",
        );
        check(
            ".python-version",
            "# pinned\ncpython-3.13.5\n",
            ".python-version `cpython-3.13.5` (==3.13.5) allows [3.13.5]",
        );
        check(
            ".python-version",
            "3\n",
            ".python-version `3` (==3.*) allows [3.11.2, 3.12.4, 3.13.5]",
        );
        check(".python-version", "pypy3.10\n", "error: .python-version: `pypy3.10` is not a Python version request Dockyard understands");
        check(
            "runtime.txt",
            "python-3.12.4\n",
            "runtime.txt `python-3.12.4` (==3.12.4) allows [3.12.4]",
        );
        check(
            "runtime.txt",
            "python-3.11\n",
            "runtime.txt `python-3.11` (==3.11.*) allows [3.11.2]",
        );
        check(
            "runtime.txt",
            "3.11\n",
            "error: runtime.txt: `3.11` is not a Python version request Dockyard understands",
        );
        check(
            "Pipfile",
            "[requires]\npython_version = \"3.13\"\n",
            "Pipfile [requires] `3.13` (==3.13.*) allows [3.13.5]",
        );
        check(
            "Pipfile",
            "[requires]\npython_full_version = \"3.11.9\"\n",
            "Pipfile [requires] `3.11.9` (==3.11.9) allows []",
        );
    }
}
