//! What the dependency files say the images need from Debian: the PostgreSQL driver they install, and the system
//! libraries it loads at run time or compiles against in the builder.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;

use dockyard_python::DependencyFormat;
use regex::Regex;

use crate::settings::SourceFile;
use crate::{Evidence, InitError};

/// The PostgreSQL driver a project installs, as far as the Debian packages it needs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresDriver {
    /// `psycopg-binary` or `psycopg2-binary`: wheels carrying their own libpq; nothing from Debian.
    Binary,
    /// psycopg 3 without its `binary` extra: pure Python loading the system's libpq at run time.
    Psycopg,
    /// psycopg2 (not `-binary`): built from source against libpq's headers, then loads libpq at run time.
    Psycopg2,
}

impl PostgresDriver {
    /// The package name as the dependency files spell it.
    pub fn name(self) -> &'static str {
        match self {
            PostgresDriver::Binary => "psycopg-binary",
            PostgresDriver::Psycopg => "psycopg",
            PostgresDriver::Psycopg2 => "psycopg2",
        }
    }

    /// Debian packages the production image (and so the builder) needs: `[production] packages`.
    pub fn runtime_packages(self) -> &'static [&'static str] {
        match self {
            PostgresDriver::Binary => &[],
            PostgresDriver::Psycopg | PostgresDriver::Psycopg2 => &["libpq5"],
        }
    }

    /// Debian packages only the builder needs, to compile the driver: `[builder] packages`.
    pub fn builder_packages(self) -> &'static [&'static str] {
        match self {
            PostgresDriver::Psycopg2 => &["libpq-dev"],
            PostgresDriver::Binary | PostgresDriver::Psycopg => &[],
        }
    }
}

/// The PostgreSQL driver the dependency files (relative to `root`) install, with the file naming it.
pub(crate) fn postgres_driver(
    root: &Path,
    format: &DependencyFormat,
) -> Result<Option<(PostgresDriver, Evidence)>, InitError> {
    let mut found: Option<(PostgresDriver, Evidence)> = None;
    // A lock file says what is installed; pyproject.toml or Pipfile only what is asked for.
    let files = match format {
        DependencyFormat::Uv { lock, .. }
        | DependencyFormat::Poetry { lock, .. }
        | DependencyFormat::Pipenv { lock, .. } => vec![lock.clone()],
        DependencyFormat::Requirements(_) | DependencyFormat::PyprojectWithoutLock { .. } => {
            format.files()
        }
    };
    for path in files {
        let Some(file) = crate::settings::read(root, &path)? else {
            continue;
        };
        let names = package_names(&file, format);
        let driver = if names.contains("psycopg-binary") || names.contains("psycopg2-binary") {
            PostgresDriver::Binary
        } else if names.contains("psycopg2") {
            PostgresDriver::Psycopg2
        } else if names.contains("psycopg") {
            PostgresDriver::Psycopg
        } else {
            continue;
        };
        // The line naming the package: `name = "psycopg"` in a lock, `psycopg2==2.9` in a requirements file.
        let names_it = |line: &str| {
            let line = line
                .trim_start()
                .trim_start_matches("name = ")
                .trim_start_matches('"');
            line.strip_prefix(driver.name()).is_some_and(|rest| {
                !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
        };
        let line = file
            .text
            .lines()
            .position(names_it)
            .map_or(1, |index| index + 1);
        // A binary wheel anywhere wins: psycopg 3 uses it instead of the system's libpq.
        let better = match &found {
            None => true,
            Some((earlier, _)) => driver == PostgresDriver::Binary && *earlier != driver,
        };
        if better {
            found = Some((driver, Evidence::new(&file.path, line)));
        }
    }
    Ok(found)
}

/// The names of the packages `file` installs, lowercase with `_` as `-`; an extra `binary` of psycopg counts as the
/// `psycopg-binary` package it brings.
fn package_names(file: &SourceFile, format: &DependencyFormat) -> BTreeSet<String> {
    // uv.lock and poetry.lock: one `name = "..."` per locked package (extras listed elsewhere are not installed).
    static LOCKED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?m)^name = "([^"]+)""#).expect("a valid regex"));
    // Pipfile.lock: `"name": {` inside `default` and `develop`.
    static PIPFILE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?m)^\s*"([A-Za-z0-9][A-Za-z0-9_.-]*)": \{"#).expect("a valid regex")
    });
    // A requirement: at the start of a line (requirements files) or quoted (pyproject.toml), with its extras.
    static REQUIREMENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?m)(?:^\s*|["'])([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(?:\[([^\]]*)\])?"#)
            .expect("a valid regex")
    });
    let normalise = |name: &str| name.to_ascii_lowercase().replace('_', "-");
    let mut names = BTreeSet::new();
    let is_toml_lock = file.path.extension().is_some_and(|ext| ext == "lock")
        && matches!(
            format,
            DependencyFormat::Uv { .. } | DependencyFormat::Poetry { .. }
        );
    let is_pipfile_lock = file.path.ends_with("Pipfile.lock");
    if is_toml_lock {
        names.extend(LOCKED.captures_iter(&file.text).map(|c| normalise(&c[1])));
    } else if is_pipfile_lock {
        names.extend(PIPFILE.captures_iter(&file.text).map(|c| normalise(&c[1])));
    } else {
        for captures in REQUIREMENT.captures_iter(&file.text) {
            let name = normalise(&captures[1]);
            let binary_extra = captures
                .get(2)
                .is_some_and(|extras| extras.as_str().split(',').any(|e| e.trim() == "binary"));
            if binary_extra && name.starts_with("psycopg") {
                names.insert(format!("{name}-binary"));
            }
            names.insert(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` into a folder, detects their format as init does, and compares the driver found.
    fn check(files: &[(&str, &str)], expected: Option<PostgresDriver>) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            std::fs::write(dir.path().join(path), text).unwrap();
        }
        let format = dockyard_python::detect_dependencies(dir.path())
            .unwrap()
            .expect("a dependency format");
        let found = postgres_driver(dir.path(), &format)
            .unwrap()
            .map(|(driver, _)| driver);
        assert_eq!(found, expected, "{files:?}");
    }

    #[test]
    fn drivers_are_told_apart_by_what_is_installed() {
        use PostgresDriver::{Binary, Psycopg, Psycopg2};
        let pyproject = (
            "pyproject.toml",
            "[tool.poetry.dependencies]\npython = \">=3.11\"\npsycopg = \"*\"\n",
        );
        // poetry.lock lists psycopg's extras, psycopg-binary among them, without installing them.
        let lock = "[[package]]\nname = \"psycopg\"\n\n[package.extras]\nbinary = [\"psycopg-binary (==3.2.12)\"]\n";
        check(&[pyproject, ("poetry.lock", lock)], Some(Psycopg));
        let with_binary = format!("{lock}\n[[package]]\nname = \"psycopg-binary\"\n");
        check(&[pyproject, ("poetry.lock", &with_binary)], Some(Binary));
        check(
            &[
                pyproject,
                ("poetry.lock", "[[package]]\nname = \"django\"\n"),
            ],
            None,
        );
        let requirements = |text: &'static str| [("requirements.txt", text)];
        check(
            &requirements("Django==5.2\npsycopg2==2.9.11\n"),
            Some(Psycopg2),
        );
        check(&requirements("psycopg2-binary==2.9.11\n"), Some(Binary));
        check(&requirements("psycopg[binary,pool]==3.2\n"), Some(Binary));
        check(&requirements("psycopg==3.2\n"), Some(Psycopg));
        check(&requirements("# psycopg2 is not used\ndjango\n"), None);
    }
}
