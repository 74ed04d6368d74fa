//! Writes fixture projects into temporary folders and renders what parsing them gives.

use std::path::{Path, PathBuf};

/// A complete, valid deploy.toml using every key; the broken cases are edits of it.
pub const VALID: &str = r#"# A fixture project using every key.

[project]
name = "shop"
version = "1.2.0"
source = "https://github.com/example/shop"

[app]
path = "app"
settings_module = "shop.settings"
wsgi = "shop.wsgi:application"
port = 8000
health_path = "/healthz/"
secrets = ["SHOP_API_TOKEN"]
requirements = ["requirements.txt"]
test_requirements = ["requirements-test.txt"]
test_command = ["python", "manage.py", "test", "--noinput", "-v", "2"]
static_root = "static/collected"

[app.env]
DJANGO_ALLOWED_HOSTS = "localhost,127.0.0.1"
DATABASE_URL = "sqlite:////tmp/shop.sqlite3"

[base.runtime]
image = "dockyard/python-runtime:bookworm"

[base.runtime.bootstrap]
suite = "bookworm"
packages = ["python3", "python3-venv", "ca-certificates"]

[base.builder]
image = "ghcr.io/example/python-builder:bookworm"
pull = false

[base.builder.bootstrap]
suite = "bookworm"
variant = "buildd"
packages = ["python3", "python3-dev", "gcc", "libc6-dev"]
mirror = "http://deb.debian.org/debian"

[builder]
dockerfile = "docker/builder.Dockerfile"
context = "docker/builder"
base = "builder"
ca_bundle = "certs/ca.pem"
pip_cache_volume = "shop-pip"

[production]
dockerfile = "docker/production.Dockerfile"
base = "runtime"
user = 20001

[context]
dockerignore = "docker.ignore"
exclude = ["*.sqlite3", "staticfiles/"]

# The nginx image, the smoke checks, the scan gate and the release come last here (deploy.toml has
# them before the context table) so that the lines above keep the numbers the snapshots show.

[base.nginx]
image = "dockyard/nginx:bookworm"

[nginx]
dockerfile = "docker/nginx.Dockerfile"
config = "docker/nginx/nginx.conf"
base = "nginx"
port = 8081
user = 20101
server_names = ["shop.example.com", "*.shop.example.com", "127.0.0.1"]
client_max_body_size = "25m"

[smoke]
startup_timeout_seconds = 90
stop_timeout_seconds = 15
app_size_budget_mb = 400
nginx_size_budget_mb = 250

[[smoke.check]]
name = "health through nginx"
path = "/healthz/"
via = "nginx"
json = { status = "ok", "checks.database" = "ok" }
headers = { "Content-Type" = "application/json" }

[[smoke.check]]
name = "health straight to the app"
path = "/healthz/"
via = "app"
method = "HEAD"
status = 200
host = "shop.example.com"

[[smoke.check]]
name = "sign-in form"
path = "/accounts/login/"
method = "POST"
status = 403
body_contains = ["CSRF", "Forbidden"]

[scan]
trivy_version = "0.76.0"
scanners = ["vuln", "secret", "misconfig", "license"]
images = ["app", "nginx", "builder"]
fail_on_severity = "critical"
ignore_unfixed = true
misconfig_fail_on_severity = "Medium"
timeout_seconds = 900
cache_dir = "target/trivy-cache"
db_repository = "registry.example.com/trivy-db:2"

[[scan.ignore]]
id = "CVE-2019-18276"
reason = "bash is not reachable from the app"
expires = 2026-12-31
image = "app"
package = "pkg:deb/debian/bash"
path = "usr/lib/python3/*"

[[scan.ignore]]
id = "CVE-2023-45853"
reason = "minizip is not used by anything in the image"
expires = "2027-03-01"

[release]
registry = "registry.example.com:5000/shop-team"
app_repository = "shop"
nginx_repository = "shop-proxy"
tags = ["{version}", "sha-{git_sha}", "{project}-{version}"]
moving_tags = ["latest", "stable"]
push_attempts = 3
push_backoff_ms = 250
username_env = "SHOP_REGISTRY_USERNAME"
password_env = "SHOP_REGISTRY_PASSWORD"
signing_key_env = "SHOP_SIGNING_KEY"

[python]
version = "3.11"

[assets]
path = "app/frontend"
package_manager = "npm"
build_script = "build"
outputs = ["app/frontend/dist"]
timeout_seconds = 300
runs_in = "node"

[assets.env]
NODE_ENV = "production"

[dev]
server = "gunicorn"
port = 8001
env = { DJANGO_DEBUG = "true" }

[services.db]
kind = "postgres"
version = "15"
ready_timeout_seconds = 90
env = { POSTGRES_URL = "url", PGHOST = "host", PGPASSWORD = "password" }

[services.cache]
kind = "redis"
version = "7"
image = "redis:7.4-bookworm"
pull = true
env = { REDIS_URL = "url" }

[[app.process]]
name = "worker"
command = ["celery", "-A", "shop", "worker"]
ready_command = ["celery", "-A", "shop", "inspect", "ping"]
ready_timeout_seconds = 30

[[app.process]]
name = "beat"
command = ["celery", "-A", "shop", "beat"]
stay_up_seconds = 3
"#;

/// Only the required keys: everything else takes its default.
pub const MINIMAL: &str = r#"[project]
name = "shop"

[app]
path = "app"
settings_module = "shop.settings"
wsgi = "shop.wsgi:application"
port = 8000
requirements = ["requirements.txt"]

[base.runtime]
image = "python:3.12-slim"

[builder]
dockerfile = "docker/builder.Dockerfile"
context = "docker/builder"
base = "runtime"

[production]
dockerfile = "docker/production.Dockerfile"
base = "runtime"
"#;

/// The files every fixture project has; a trailing `/` makes a folder.
pub const FIXTURE_FILES: &[&str] = &[
    "app/manage.py",
    "app/requirements.txt",
    "app/requirements-test.txt",
    "app/docker.ignore",
    "docker/builder.Dockerfile",
    "docker/builder/",
    "docker/production.Dockerfile",
    "docker/nginx.Dockerfile",
    "docker/nginx/nginx.conf",
    "certs/ca.pem",
    "app/frontend/package.json",
    "app/frontend/package-lock.json",
    "app/runtime.txt",
    "app/frontend/Pipfile",
];

/// Writes the fixture files (less `removed`, plus `added`) and `deploy.toml` into a new folder.
pub fn write_fixture_project(text: &str, removed: &[&str], added: &[&str]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("create a temporary folder");
    let files = FIXTURE_FILES
        .iter()
        .filter(|file| !removed.contains(file))
        .chain(added.iter());
    for file in files {
        let path = folder.path().join(file);
        if file.ends_with('/') {
            std::fs::create_dir_all(&path).expect("create a fixture folder");
        } else {
            let parent = path.parent().expect("fixture files are in a folder");
            std::fs::create_dir_all(parent).expect("create a fixture folder");
            std::fs::write(&path, "# fixture\n").expect("write a fixture file");
        }
    }
    std::fs::write(folder.path().join("deploy.toml"), text).expect("write deploy.toml");
    folder
}

/// The folder as the crate will see it, for redaction.
pub fn canonical_root(folder: &tempfile::TempDir) -> PathBuf {
    folder
        .path()
        .canonicalize()
        .expect("canonicalize the fixture folder")
}

/// `text` with the fixture folder replaced by `[ROOT]`.
pub fn redact_root(text: &str, root: &Path) -> String {
    text.replace(&root.display().to_string(), "[ROOT]")
}

/// Parses `text` as the deploy.toml of a fixture project: the resolved config as JSON, or the
/// rendered error, with the fixture folder shown as `[ROOT]`.
pub fn check_project(text: &str, removed: &[&str], added: &[&str]) -> String {
    let folder = write_fixture_project(text, removed, added);
    let root = canonical_root(&folder);
    let rendered = match dockyard_config::parse(text, &root.join("deploy.toml")) {
        Ok(config) => serde_json::to_string_pretty(&config).expect("configs serialize"),
        Err(error) => {
            assert!(
                error.line().is_some(),
                "errors about the file have a line: {error}"
            );
            assert!(
                error.column().is_some(),
                "errors about the file have a column: {error}"
            );
            error.to_string()
        }
    };
    redact_root(&rendered, &root)
}

/// Like [`check_project`] with the standard fixture files.
pub fn check(text: &str) -> String {
    check_project(text, &[], &[])
}

/// [`VALID`] with `old` (which must occur exactly once) replaced by `new`, checked with the
/// fixture files less `removed`; it must fail, and the rendered error is returned.
pub fn check_broken_project(old: &str, new: &str, removed: &[&str]) -> String {
    assert_eq!(
        VALID.matches(old).count(),
        1,
        "the fixture must contain {old:?} exactly once"
    );
    let text = VALID.replacen(old, new, 1);
    let folder = write_fixture_project(&text, removed, &[]);
    let root = canonical_root(&folder);
    match dockyard_config::parse(&text, &root.join("deploy.toml")) {
        Ok(config) => panic!("expected an error, got {config:#?}"),
        Err(error) => {
            assert!(
                error.line().is_some(),
                "errors about the file have a line: {error}"
            );
            assert!(
                error.column().is_some(),
                "errors about the file have a column: {error}"
            );
            assert!(
                error.key().is_some()
                    || matches!(error, dockyard_config::ConfigError::Syntax { .. })
            );
            redact_root(&error.to_string(), &root)
        }
    }
}
