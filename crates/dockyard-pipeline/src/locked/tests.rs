//! Each format's locked set: the files the builder receives, its environment and the plan's line.

use super::*;

/// Writes `files` and a deploy.toml whose dependencies are `dependencies` (TOML: an `[app]` requirements line or a
/// `[dependencies]` table), and renders the locked set: summary, environment, each uploaded file's path, then each
/// pinned package with its lock file and how many hashes it accepts.
fn check(files: &[(&str, &str)], dependencies: &str, expected: &str) {
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path().canonicalize().unwrap();
    let (app_line, table) = match dependencies.strip_prefix("requirements") {
        Some(_) => (dependencies.to_owned(), String::new()),
        None => (String::new(), dependencies.to_owned()),
    };
    let deploy = format!(
        "[project]\nname = \"locked\"\n[app]\npath = \"app\"\nsettings_module = \"site.settings\"\n\
         wsgi = \"site.wsgi:application\"\nport = 8000\n{app_line}\n{table}\n"
    );
    for (path, text) in files
        .iter()
        .chain(&[("app/manage.py", ""), ("deploy.toml", deploy.as_str())])
    {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let config =
        dockyard_config::load(&root.join("deploy.toml")).unwrap_or_else(|error| panic!("{error}"));
    let rendered = match lock(&config) {
        Ok(set) => {
            let mut lines = vec![set.summary.clone()];
            lines.extend(set.environment());
            lines.extend(set.files.iter().map(|file| format!("file {}", file.path)));
            for pins in &set.pins {
                lines.extend(pins.packages.iter().map(|package| {
                    format!(
                        "pin {} {}=={} ({} sha256)",
                        pins.file,
                        package.name,
                        package.version,
                        package.sha256.len()
                    )
                }));
            }
            lines.join("\n")
        }
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(rendered, expected, "{dependencies}");
}

#[test]
fn requirements_travel_with_their_includes() {
    check(
        &[
            ("app/requirements.txt", "-r ../requirements/base.txt\n"),
            ("requirements/base.txt", "django==5.2 --hash=sha256:abc\n"),
            ("app/requirements-test.txt", "pytest\n"),
        ],
        "requirements = [\"requirements.txt\"]\ntest_requirements = [\"requirements-test.txt\"]",
        "requirements: app/requirements.txt; tests app/requirements-test.txt; hash-pinned\n\
         DOCKYARD_REQUIREMENTS=app/requirements.txt\n\
         DOCKYARD_TEST_REQUIREMENTS=app/requirements-test.txt\n\
         DOCKYARD_REQUIRE_HASHES=1\n\
         file app/requirements-test.txt\n\
         file app/requirements.txt\n\
         file requirements/base.txt\n\
         pin requirements/base.txt django==5.2 (1 sha256)",
    );
}

#[test]
fn uv_exports_in_the_builder() {
    check(
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"x\"\n[project.optional-dependencies]\nprod = []\ntest = []\n\
                 [dependency-groups]\nlint = []\n",
            ),
            (
                "uv.lock",
                "version = 1\n[[package]]\nname = \"x\"\nversion = \"0.1\"\nsource = { virtual = \".\" }\n\
                 [[package]]\nname = \"Django\"\nversion = \"5.2\"\nsdist = { hash = \"sha256:ab\" }\n\
                 wheels = [{ hash = \"sha256:cd\" }]\n",
            ),
        ],
        "[dependencies]\nformat = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"prod\"]\n\
         test_groups = [\"test\", \"lint\"]",
        "uv: pyproject.toml + uv.lock; groups prod; test groups test, lint\n\
         DOCKYARD_UV_PROJECT=.\n\
         DOCKYARD_UV_EXPORT_ARGS=--extra prod\n\
         DOCKYARD_UV_TEST_EXPORT_ARGS=--extra prod --extra test --group lint\n\
         DOCKYARD_REQUIRE_HASHES=1\n\
         file pyproject.toml\n\
         file uv.lock\n\
         pin uv.lock django==5.2 (2 sha256)",
    );
}

#[test]
fn poetry_and_pipenv_locks_are_written_as_requirements() {
    check(
        &[
            ("pyproject.toml", "[tool.poetry.group.dev.dependencies]\n"),
            (
                "poetry.lock",
                "[[package]]\nname = \"django\"\nversion = \"5.2\"\ngroups = [\"main\"]\n\
                 files = [{file = \"d.whl\", hash = \"sha256:abc\"}]\n",
            ),
        ],
        "[dependencies]\nformat = \"poetry\"\nfiles = [\"pyproject.toml\", \"poetry.lock\"]\ntest_groups = [\"dev\"]",
        "poetry.lock (hash-pinned); test groups dev\n\
         DOCKYARD_REQUIREMENTS=.dockyard/production.txt\n\
         DOCKYARD_TEST_REQUIREMENTS=.dockyard/test.txt\n\
         DOCKYARD_REQUIRE_HASHES=1\n\
         file .dockyard/production.txt\n\
         file .dockyard/test.txt\n\
         pin poetry.lock django==5.2 (1 sha256)",
    );
    check(
        &[("Pipfile.lock", "{\"default\": {}, \"develop\": {\"x\": {\"version\": \"==1\"}}}")],
        "[dependencies]\nformat = \"pipenv\"\nfiles = [\"Pipfile.lock\"]\ntest_groups = [\"develop\"]",
        "error: Pipfile.lock: cannot pin `x`: the lock lists no file hash for it",
    );
}
