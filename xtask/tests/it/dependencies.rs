//! Each locked dependency format built on a real engine: a tiny Django project generated in a temporary folder, its
//! lock at the repository root and manage.py in `site/`, exported with `cargo xtask export`. The export must hold a
//! wheel for every production package and none for the test-only one, and the app's test (which imports both) must
//! have run in the builder. Then one hash of the lock is tampered with: the export fails with exit 6 naming the
//! package, and nothing of the run is left.
//!
//! The locks in `dependencies/` pin django 5.2.13 (with asgiref, sqlparse and tzdata on Windows), filetype 1.2.0 for
//! production and iniconfig 2.1.0 for the tests; their hashes are PyPI's, copied from `examples/djangonaut-space`.

use std::io::Read;

use dockyard_reliability::{record, Category};

use crate::smoke::cleanup_images;
use crate::support::{engine_or_skip, stderr, workspace_root, Project};

/// The pip (and uv) cache these tests share, so django is downloaded once for all of them.
const PIP_CACHE_VOLUME: &str = "dockyard-deps-it-pip-cache";
/// Printed by the app's test: found in the builder's output, it proves the tests ran with both packages.
const TEST_RAN: &str = "dockyard-deps-test-ran";
/// The production package whose hashes the tampered lock replaces.
const TAMPERED_PACKAGE: &str = "filetype==1.2.0";
/// filetype 1.2.0's two hashes (sdist and wheel), as PyPI serves them.
const TAMPERED_HASHES: [&str; 2] = [
    "66b56cd6474bf41d8c54660347d37afcc3f7d1970648de365c102ef77548aadb",
    "7ce71b6880181241cf7ac8697a2f1eb6a8bd9b429f7ad6d27b8db9ba5f1c2d25",
];

/// The tiny Django project, under `site/`.
const SITE: &[(&str, &str)] = &[
    (
        "site/manage.py",
        "import os, sys\n\
         os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings\")\n\
         from django.core.management import execute_from_command_line\n\
         execute_from_command_line(sys.argv)\n",
    ),
    ("site/shop/__init__.py", ""),
    (
        "site/shop/settings.py",
        "import os\nfrom pathlib import Path\n\
         BASE_DIR = Path(__file__).resolve().parent.parent\n\
         SECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]\n\
         DEBUG = False\nALLOWED_HOSTS = [\"*\"]\n\
         INSTALLED_APPS = [\"django.contrib.staticfiles\", \"shop\"]\n\
         ROOT_URLCONF = \"shop.urls\"\n\
         DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.sqlite3\", \"NAME\": \"/tmp/shop.sqlite3\"}}\n\
         STATIC_URL = \"static/\"\nSTATIC_ROOT = BASE_DIR / \"staticfiles\"\nUSE_TZ = True\n",
    ),
    (
        "site/shop/urls.py",
        "from django.http import HttpResponse\nfrom django.urls import path\n\
         urlpatterns = [path(\"\", lambda request: HttpResponse(\"shop\"))]\n",
    ),
    (
        "site/shop/wsgi.py",
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
    ),
    (
        "site/shop/tests.py",
        "from django.test import SimpleTestCase\n\n\n\
         class DependencyTests(SimpleTestCase):\n\
         \x20   def test_production_and_test_packages_import(self):\n\
         \x20       import filetype, iniconfig\n\
         \x20       print(\"dockyard-deps-test-ran\", filetype.__name__, iniconfig.__name__)\n\
         \x20       self.assertEqual(self.client.get(\"/\").status_code, 200)\n",
    ),
    ("site/shop/static/shop/site.css", "body { margin: 0; }\n"),
];

/// One format: its `[dependencies]` table and its files (name in the project, content).
struct Format {
    name: &'static str,
    table: &'static str,
    files: &'static [(&'static str, &'static str)],
    /// The file whose hashes are tampered with.
    lock: &'static str,
}

const UV: Format = Format {
    name: "uv",
    table: "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ntest_groups = [\"test\"]\n",
    files: &[
        (
            "pyproject.toml",
            include_str!("dependencies/pyproject-uv.toml"),
        ),
        ("uv.lock", include_str!("dependencies/uv.lock")),
    ],
    lock: "uv.lock",
};

const POETRY: Format = Format {
    name: "poetry",
    table: "format = \"poetry\"\nfiles = [\"pyproject.toml\", \"poetry.lock\"]\ntest_groups = [\"dev\"]\n",
    files: &[
        ("pyproject.toml", include_str!("dependencies/pyproject-poetry.toml")),
        ("poetry.lock", include_str!("dependencies/poetry.lock")),
    ],
    lock: "poetry.lock",
};

const PIPENV: Format = Format {
    name: "pipenv",
    table: "format = \"pipenv\"\nfiles = [\"Pipfile.lock\"]\ntest_groups = [\"develop\"]\n",
    files: &[("Pipfile.lock", include_str!("dependencies/Pipfile.lock"))],
    lock: "Pipfile.lock",
};

const REQUIREMENTS: Format = Format {
    name: "requirements",
    table: "format = \"requirements\"\nfiles = [\"requirements.txt\"]\ntest_files = [\"requirements-test.txt\"]\n",
    files: &[
        ("requirements.txt", include_str!("dependencies/requirements.txt")),
        ("requirements-test.txt", include_str!("dependencies/requirements-test.txt")),
    ],
    lock: "requirements.txt",
};

/// The repository's `[base.*]` tables, so the tests start from the base images the other engine tests use.
fn repository_bases() -> String {
    let deploy = std::fs::read_to_string(workspace_root().join("deploy.toml")).unwrap();
    let start = deploy
        .find("\n[base.runtime]\n")
        .expect("deploy.toml has [base.runtime]");
    let end = deploy
        .find("\n[builder]\n")
        .expect("deploy.toml has [builder]");
    assert!(start < end, "the [base.*] tables come before [builder]");
    format!("{}\n", &deploy[start..end])
}

/// Writes the project for `format` into a temporary folder.
fn write_project(format: &Format) -> Project {
    let name = format!("dockyard-deps-{}", format.name);
    let dir = tempfile::Builder::new()
        .prefix("dockyard-deps-")
        .tempdir()
        .unwrap();
    let deploy = format!(
        "[project]\nname = \"{name}\"\n\n[app]\npath = \"site\"\nsettings_module = \"shop.settings\"\n\
         wsgi = \"shop.wsgi:application\"\nport = 8000\n\n[dependencies]\n{}\n{}\
         [builder]\nca_bundle = \"/etc/ssl/certs/ca-certificates.crt\"\npip_cache_volume = \"{PIP_CACHE_VOLUME}\"\n",
        format.table,
        repository_bases()
    );
    for (path, text) in SITE
        .iter()
        .chain(format.files)
        .chain(&[("deploy.toml", deploy.as_str())])
    {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    Project { dir, name }
}

/// The wheel file names in the exported context.
fn exported_wheels(project: &Project) -> Vec<String> {
    let path = project.path(&format!("target/dockyard/{}-context.tar.gz", project.name));
    let file =
        std::fs::File::open(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut wheels = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if let Some(wheel) = name.trim_start_matches("./").strip_prefix("wheels/") {
            wheels.push(wheel.to_owned());
        }
    }
    wheels.sort();
    wheels
}

/// Everything the run logged under `target/dockyard/logs/`, with the command's stderr.
fn run_output(project: &Project, stderr_text: &str) -> String {
    let mut text = stderr_text.to_owned();
    let logs = project.path("target/dockyard/logs");
    for entry in walkdir::WalkDir::new(&logs)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            let mut contents = String::new();
            if std::fs::File::open(entry.path())
                .and_then(|mut file| file.read_to_string(&mut contents))
                .is_ok()
            {
                text.push_str(&contents);
            }
        }
    }
    text
}

/// Replaces filetype's hashes in `lock` with zeros.
fn tamper(project: &Project, lock: &str) {
    let path = project.path(lock);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for hash in TAMPERED_HASHES {
        assert!(text.contains(hash), "{lock} pins filetype's hash {hash}");
        text = text.replace(hash, &"0".repeat(64));
    }
    std::fs::write(&path, text).unwrap();
}

/// The export holds a wheel for every production package and none for the test-only one, uv, pip or a package
/// whose markers exclude Linux; the app's test ran. Returns the wheels.
fn assert_exported(project: &Project, log: &str) -> Vec<String> {
    let wheels = exported_wheels(project);
    for package in ["asgiref-", "django-5.2.13-", "filetype-1.2.0-", "sqlparse-"] {
        assert!(
            wheels.iter().any(|wheel| wheel.starts_with(package)),
            "no {package} wheel in {wheels:?}"
        );
    }
    for absent in ["iniconfig", "tzdata", "uv-", "pip-"] {
        assert!(
            !wheels.iter().any(|wheel| wheel.starts_with(absent)),
            "{absent} is in the production wheels: {wheels:?}"
        );
    }
    assert!(log.contains(TEST_RAN), "the app's test did not run:\n{log}");
    wheels
}

/// Exports `format`'s project, checks the wheels and the test run, then tampers with the lock and checks the failure.
fn check(format: &Format, test: &str) {
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = write_project(format);
    let export = project.xtask(&["export"]);
    let log = run_output(&project, &stderr(&export));
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let built = assert_exported(&project, &log);

    tamper(&project, format.lock);
    let failed = project.xtask(&["export"]);
    let failure = stderr(&failed);
    assert_eq!(failed.status.code(), Some(6), "{failure}");
    let message =
        format!("the lock's hashes do not match what was downloaded for {TAMPERED_PACKAGE}");
    assert!(
        failure.contains(&message),
        "expected `{message}` in:\n{failure}"
    );
    assert!(failure.contains("\nhint: "), "no hint in:\n{failure}");
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup_images(&engine, &project);
    record(
        Category::Fault,
        &format!("tampered_hash_{}", format.name),
        &format!(
            "{}: both of filetype 1.2.0's sha256 hashes replaced by zeros (format `{}`)",
            format.lock, format.name
        ),
        &format!("export exits 6, `{message}` with a hint; nothing of the run left (the untampered lock exported {} wheels and ran the tests)", built.len()),
        &format!("xtask::dependencies::{test}"),
    );
}

#[test]
fn uv_lock_exports_wheels_and_a_tampered_hash_fails_naming_the_package() {
    check(
        &UV,
        "uv_lock_exports_wheels_and_a_tampered_hash_fails_naming_the_package",
    );
}

#[test]
fn poetry_lock_exports_wheels_and_a_tampered_hash_fails_naming_the_package() {
    check(
        &POETRY,
        "poetry_lock_exports_wheels_and_a_tampered_hash_fails_naming_the_package",
    );
}

#[test]
fn pipfile_lock_exports_wheels_and_a_tampered_hash_fails_naming_the_package() {
    check(
        &PIPENV,
        "pipfile_lock_exports_wheels_and_a_tampered_hash_fails_naming_the_package",
    );
}

#[test]
fn hash_pinned_requirements_export_wheels_and_a_tampered_hash_fails_naming_the_package() {
    check(
        &REQUIREMENTS,
        "hash_pinned_requirements_export_wheels_and_a_tampered_hash_fails_naming_the_package",
    );
}
