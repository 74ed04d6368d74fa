//! The raw serde mirror of `deploy.toml`: exactly what the file says, with spans, nothing checked.
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored setting.
//! Values keep their [`Spanned`] position so that validation in the resolving step can point at
//! the offending key or value. Defaults are applied later, when resolving, so `None` here means
//! "not written".

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A list of strings, each with its position, the list itself with its own.
pub type SpannedStrings = Spanned<Vec<Spanned<String>>>;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// `[project]`.
    pub project: Project,
    /// `[app]`, with the span of its header.
    pub app: Spanned<App>,
    /// `[dependencies]`, optional, with the span of its header.
    pub dependencies: Option<Spanned<Dependencies>>,
    /// `[python]`, optional.
    pub python: Option<Python>,
    /// `[base.<name>]`, by name, optional.
    pub base: Option<Spanned<BTreeMap<Spanned<String>, Base>>>,
    /// `[builder]`, optional.
    pub builder: Option<Builder>,
    /// `[production]`, optional.
    pub production: Option<Production>,
    /// `[nginx]`, optional.
    pub nginx: Option<Nginx>,
    /// `[smoke]` and its `[[smoke.check]]` entries, optional.
    pub smoke: Option<Smoke>,
    /// `[scan]` and its `[[scan.ignore]]` entries, optional, with the span of its header.
    pub scan: Option<Spanned<Scan>>,
    /// `[release]`, optional, with the span of its header.
    pub release: Option<Spanned<Release>>,
    /// `[context]`, optional.
    pub context: Option<Context>,
    /// `[assets]`, optional, with the span of its header.
    pub assets: Option<Spanned<Assets>>,
    /// `[services.<name>]`, by name, optional.
    pub services: Option<BTreeMap<Spanned<String>, Spanned<Service>>>,
    /// `[dev]`, optional.
    pub dev: Option<Dev>,
    /// `[matrix]`, optional, with the span of its header.
    pub matrix: Option<Spanned<Matrix>>,
    /// `[platforms]`, optional, with the span of its header.
    pub platforms: Option<Spanned<Platforms>>,
}

/// `[platforms]`: the platforms of the production and nginx images.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platforms {
    /// `targets`: OCI platforms (`linux/arm64`), this machine's among them.
    pub targets: Option<SpannedStrings>,
    /// `engines`: the engine of a platform (`"linux/arm64" = "tcp://arm-builder:2375"`), as `DOCKER_HOST` spells it.
    pub engines: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

/// `[matrix]`: the Pythons the builder's tests run on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// `python`: the versions, the shipped one (`[python] version`) among them.
    pub python: Option<SpannedStrings>,
}

/// `[dev]`: `cargo xtask dev`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dev {
    /// `server`: `runserver` or `gunicorn`.
    pub server: Option<Spanned<String>>,
    /// `port`: the host port the app is published on (0: any free port).
    pub port: Option<Spanned<i64>>,
    /// `[dev.env]`: variables for the dev containers only, over `[app.env]`.
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// `[services.<name>]`: a backing service for the builder's tests, smoke and `run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `kind`: `postgres`, `redis` or `rabbitmq`.
    pub kind: Spanned<String>,
    /// `version`: dot-separated numbers; required (checked when resolving, to point at the table).
    pub version: Option<Spanned<String>>,
    /// `image`: an image to use instead of Dockyard's own.
    pub image: Option<Spanned<String>>,
    /// `pull`: pull `image` when the engine lacks it (default true).
    pub pull: Option<Spanned<bool>>,
    /// `ready_timeout_seconds`.
    pub ready_timeout_seconds: Option<Spanned<i64>>,
    /// `env`: the app's variable names and the part of the connection each receives.
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// `[[app.process]]`: another process of the production image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// `name`.
    pub name: Spanned<String>,
    /// `command`: the argv.
    pub command: SpannedStrings,
    /// `ready_command`: an argv that exits 0 once the process is ready.
    pub ready_command: Option<SpannedStrings>,
    /// `ready_timeout_seconds`: only with `ready_command`.
    pub ready_timeout_seconds: Option<Spanned<i64>>,
    /// `stay_up_seconds`: only without `ready_command`.
    pub stay_up_seconds: Option<Spanned<i64>>,
}

/// `[project]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// `name`: used in image names and file names.
    pub name: Spanned<String>,
    /// `version`.
    pub version: Option<Spanned<String>>,
    /// `source`: a URL for the OCI source label.
    pub source: Option<Spanned<String>>,
}

/// `[app]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// `path`: the Django project folder (holding `manage.py`).
    pub path: Spanned<String>,
    /// `settings_module`: the dotted Python path of the settings module.
    pub settings_module: Spanned<String>,
    /// `wsgi`: `module.path:callable`.
    pub wsgi: Spanned<String>,
    /// `port`: the port the app listens on inside the container.
    pub port: Spanned<i64>,
    /// `health_path`: the HTTP path answering 200 when the app is up.
    pub health_path: Option<Spanned<String>>,
    /// `requirements`: pip requirement files, relative to `path` (or `[dependencies]` instead).
    pub requirements: Option<SpannedStrings>,
    /// `test_requirements`: extra pip requirement files for tests, relative to `path`.
    pub test_requirements: Option<SpannedStrings>,
    /// `test_command`: the argv that runs the tests.
    pub test_command: Option<SpannedStrings>,
    /// `static_root`: where `collectstatic` writes, relative to `path`.
    pub static_root: Option<Spanned<String>>,
    /// `[app.env]`: the runtime environment.
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// `secrets`: the variables that hold secrets in production, each given a throwaway value in every run.
    pub secrets: Option<SpannedStrings>,
    /// `[[app.process]]`: the other processes of the production image.
    pub process: Option<Spanned<Vec<Process>>>,
}

/// `[dependencies]`: the app's Python dependencies in any format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependencies {
    /// `format`: `requirements`, `uv`, `poetry` or `pipenv`.
    pub format: Spanned<String>,
    /// `files`: the format's files, relative to the deploy file's folder.
    pub files: SpannedStrings,
    /// `test_files`: requirements files for the tests only (format `requirements`).
    pub test_files: Option<SpannedStrings>,
    /// `groups`: optional groups or extras installed in the production image too.
    pub groups: Option<SpannedStrings>,
    /// `test_groups`: optional groups or extras installed in the builder only, for the tests.
    pub test_groups: Option<SpannedStrings>,
}

/// `[python]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Python {
    /// `version`: the Python of the built-in bases, `"3.11"` or `"3.13"`.
    pub version: Option<Spanned<String>>,
    /// `[[python.ignore]]`: request files the chosen Python overrides, each with a reason.
    pub ignore: Option<Vec<Spanned<PythonIgnore>>>,
}

/// One `[[python.ignore]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonIgnore {
    /// `file`: the request file (`runtime.txt`, `.python-version`, `pyproject.toml`, `Pipfile`), relative to the
    /// deploy file's folder.
    pub file: Spanned<String>,
    /// `reason`: why the project runs on a Python its file does not ask for.
    pub reason: Spanned<String>,
}

/// `[base.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base {
    /// `image`: the image reference.
    pub image: Spanned<String>,
    /// `pull`: whether to pull the image when it is missing locally.
    pub pull: Option<Spanned<bool>>,
    /// `[base.<name>.bootstrap]`: how to build the image from scratch with debootstrap.
    pub bootstrap: Option<Bootstrap>,
}

/// `[base.<name>.bootstrap]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// `suite`: the Debian suite, for example `bookworm`.
    pub suite: Spanned<String>,
    /// `variant`: the debootstrap variant.
    pub variant: Option<Spanned<String>>,
    /// `packages`: extra Debian packages.
    pub packages: Option<SpannedStrings>,
    /// `mirror`: the Debian mirror URL.
    pub mirror: Option<Spanned<String>>,
    /// `env`: variables set in the image's config (`PYTHON_VERSION`).
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// `architecture`: the Debian architecture of the root filesystem (`arm64`), when not the host's.
    pub architecture: Option<Spanned<String>>,
}

/// `[builder]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// `dockerfile`: relative to the deploy file's folder.
    pub dockerfile: Option<Spanned<String>>,
    /// `context`: a folder, relative to the deploy file's folder.
    pub context: Option<Spanned<String>>,
    /// `base`: the name of a `[base.<name>]` table.
    pub base: Option<Spanned<String>>,
    /// `ca_bundle`: a CA bundle file, absolute or relative to the deploy file's folder.
    pub ca_bundle: Option<Spanned<String>>,
    /// `pip_cache_volume`: the Docker volume holding pip's cache.
    pub pip_cache_volume: Option<Spanned<String>>,
    /// `packages`: Debian packages the built-in builder base adds (headers to compile against: `libpq-dev`).
    pub packages: Option<SpannedStrings>,
    /// `settings_module`: the settings the builder's tests and collectstatic run with.
    pub settings_module: Option<Spanned<String>>,
    /// `collectstatic_before_tests`: whether collectstatic runs before the tests.
    pub collectstatic_before_tests: Option<bool>,
    /// `[builder.env]`: the builder's non-secret environment.
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// `[production]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Production {
    /// `dockerfile`: relative to the deploy file's folder.
    pub dockerfile: Option<Spanned<String>>,
    /// `base`: the name of a `[base.<name>]` table.
    pub base: Option<Spanned<String>>,
    /// `user`: the numeric uid the app runs as.
    pub user: Option<Spanned<i64>>,
    /// `packages`: Debian packages the built-in runtime base adds (shared libraries the app loads: `libpq5`).
    pub packages: Option<SpannedStrings>,
}

/// `[nginx]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nginx {
    /// `dockerfile`: relative to the deploy file's folder.
    pub dockerfile: Option<Spanned<String>>,
    /// `config`: the nginx.conf template, relative to the deploy file's folder.
    pub config: Option<Spanned<String>>,
    /// `base`: the name of a `[base.<name>]` table.
    pub base: Option<Spanned<String>>,
    /// `port`: the port nginx listens on inside the container.
    pub port: Option<Spanned<i64>>,
    /// `user`: the numeric uid nginx runs as.
    pub user: Option<Spanned<i64>>,
    /// `server_names`: host names and IPv4 addresses for `server_name`.
    pub server_names: Option<SpannedStrings>,
    /// `client_max_body_size`: the largest request body, in nginx's size syntax.
    pub client_max_body_size: Option<Spanned<String>>,
}

/// `[smoke]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    /// `startup_timeout_seconds`: how long to wait for the containers to answer.
    pub startup_timeout_seconds: Option<Spanned<i64>>,
    /// `stop_timeout_seconds`: how long `docker stop` waits before killing.
    pub stop_timeout_seconds: Option<Spanned<i64>>,
    /// `app_size_budget_mb`: the largest acceptable production image, in megabytes.
    pub app_size_budget_mb: Option<Spanned<i64>>,
    /// `nginx_size_budget_mb`: the largest acceptable nginx image, in megabytes.
    pub nginx_size_budget_mb: Option<Spanned<i64>>,
    /// `host`: the `Host` header of smoke's requests.
    pub host: Option<Spanned<String>>,
    /// `page`: the page the static check renders.
    pub page: Option<Spanned<String>>,
    /// `https`: whether requests arrive as from a TLS terminator (`X-Forwarded-Proto: https`).
    pub https: Option<bool>,
    /// `deploy_checks`: whether `manage.py check --deploy` and the DEBUG check run.
    pub deploy_checks: Option<bool>,
    /// `[smoke.silence]`: Django system check ids accepted, each with the reason.
    pub silence: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// `[[smoke.check]]`: extra HTTP checks, each with the span of its table.
    pub check: Option<Vec<Spanned<SmokeCheck>>>,
}

/// One `[[smoke.check]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheck {
    /// `name`: how the check is reported; unique among checks.
    pub name: Spanned<String>,
    /// `path`: the HTTP path to request.
    pub path: Spanned<String>,
    /// `via`: `"nginx"` or `"app"`, the container the request goes to.
    pub via: Option<Spanned<String>>,
    /// `method`: the HTTP method.
    pub method: Option<Spanned<String>>,
    /// `status`: the expected HTTP status.
    pub status: Option<Spanned<i64>>,
    /// `host`: the `Host` header to send.
    pub host: Option<Spanned<String>>,
    /// `json`: dotted paths into the JSON body, each with the expected value as a string.
    pub json: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// `headers`: response header names, each with a substring its value must contain.
    pub headers: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// `body_contains`: substrings the body must contain.
    pub body_contains: Option<SpannedStrings>,
}

/// `[scan]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    /// `trivy_version`: the trivy release to run, `MAJOR.MINOR.PATCH`.
    pub trivy_version: Spanned<String>,
    /// `scanners`: which of trivy's scanners to run.
    pub scanners: Option<SpannedStrings>,
    /// `images`: which of the built images to scan.
    pub images: Option<SpannedStrings>,
    /// `fail_on_severity`: the lowest severity of a vulnerability or secret that fails the gate.
    pub fail_on_severity: Option<Spanned<String>>,
    /// `ignore_unfixed`: whether vulnerabilities without a fixed version are left out.
    pub ignore_unfixed: Option<Spanned<bool>>,
    /// `misconfig_fail_on_severity`: the lowest severity of a misconfiguration that fails the gate.
    pub misconfig_fail_on_severity: Option<Spanned<String>>,
    /// `timeout_seconds`: how long one trivy run may take.
    pub timeout_seconds: Option<Spanned<i64>>,
    /// `cache_dir`: trivy's cache folder, relative to the deploy file's folder.
    pub cache_dir: Option<Spanned<String>>,
    /// `db_repository`: the OCI repository of trivy's vulnerability database.
    pub db_repository: Option<Spanned<String>>,
    /// `skip_db_update`: use the database in `cache_dir` as it is, never downloading one.
    pub skip_db_update: Option<Spanned<bool>>,
    /// `[[scan.ignore]]`: accepted risks, each with the span of its table.
    pub ignore: Option<Vec<Spanned<ScanIgnore>>>,
}

/// One `[[scan.ignore]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanIgnore {
    /// `id`: the finding's id, for example a CVE.
    pub id: Spanned<String>,
    /// `reason`: why the risk is accepted.
    pub reason: Spanned<String>,
    /// `expires`: the last day the entry applies, a TOML date or a `"YYYY-MM-DD"` string; any
    /// other value is refused when resolving, which can say more than a type error.
    pub expires: Spanned<toml::Value>,
    /// `image`: the one image the entry applies to.
    pub image: Option<Spanned<String>>,
    /// `package`: a package URL, or the start of one, the finding must be in.
    pub package: Option<Spanned<String>>,
    /// `path`: the file path, or pattern, the finding must be in.
    pub path: Option<Spanned<String>>,
}

/// `[release]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// `registry`: the registry host, with an optional port and namespace path.
    pub registry: Option<Spanned<String>>,
    /// `app_repository`: the repository path of the app image.
    pub app_repository: Option<Spanned<String>>,
    /// `nginx_repository`: the repository path of the nginx image.
    pub nginx_repository: Option<Spanned<String>>,
    /// `tags`: tag templates, each pushed once for a release.
    pub tags: Option<SpannedStrings>,
    /// `moving_tags`: tag templates moved to every new release.
    pub moving_tags: Option<SpannedStrings>,
    /// `push_attempts`: how many times a push is tried.
    pub push_attempts: Option<Spanned<i64>>,
    /// `push_backoff_ms`: the wait before retrying a failed push, in milliseconds.
    pub push_backoff_ms: Option<Spanned<i64>>,
    /// `username_env`: the name of the environment variable holding the registry username.
    pub username_env: Option<Spanned<String>>,
    /// `password_env`: the name of the environment variable holding the registry password.
    pub password_env: Option<Spanned<String>>,
    /// `signing_key_env`: the name of the environment variable holding the PEM key that signs the provenance.
    pub signing_key_env: Option<Spanned<String>>,
}

/// `[context]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// `dockerignore`: relative to the app folder.
    pub dockerignore: Option<Spanned<String>>,
    /// `exclude`: extra gitignore-style patterns to leave out of the build context.
    pub exclude: Option<SpannedStrings>,
}

/// `[assets]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assets {
    /// `path`: the folder holding `package.json`, relative to the deploy file's folder.
    pub path: Spanned<String>,
    /// `package_manager`: `npm`, `yarn` or `pnpm`.
    pub package_manager: Spanned<String>,
    /// `install_command`: the argv installing the locked dependencies.
    pub install_command: Option<SpannedStrings>,
    /// `build_script`: a `package.json` script run through the package manager.
    pub build_script: Option<Spanned<String>>,
    /// `build_command`: the argv of the build, instead of `build_script`.
    pub build_command: Option<SpannedStrings>,
    /// `outputs`: the folders the build writes, relative to the deploy file's folder.
    pub outputs: Option<SpannedStrings>,
    /// `sources`: other folders the build reads (templates Tailwind scans), relative to the deploy file's folder.
    pub sources: Option<SpannedStrings>,
    /// `timeout_seconds`: how long the install and the build may take together.
    pub timeout_seconds: Option<Spanned<i64>>,
    /// `runs_in`: `node` or `builder`.
    pub runs_in: Option<Spanned<String>>,
    /// `[assets.env]`: the build's environment.
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}
