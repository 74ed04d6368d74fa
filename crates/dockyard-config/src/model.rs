//! The validated, resolved configuration: what the rest of Dockyard reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::choices::{
    AssetsRunsIn, DependencyFormat, HttpMethod, ImageKind, PackageManager, PythonVersion, Scanner,
    ServiceKind, ServiceValue, Severity, Via,
};
use crate::container_paths::{OutputPlace, StaticRoot};
use crate::image_reference::ImageRef;
use crate::tag_template::{render_tag_template, TagValues};
use crate::templates::{Template, TemplateFolder};

/// A checked `deploy.toml`: defaults applied, paths resolved against the file's folder, image
/// references parsed, every cross reference (base names) known to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployConfig {
    /// The deploy file (absolute when it came through [`crate::load`]).
    pub file: PathBuf,
    /// The folder holding the deploy file; every relative path was resolved against it.
    pub root: PathBuf,
    /// `[project]`.
    pub project: Project,
    /// `[app]`.
    pub app: App,
    /// `[dependencies]`, or `[app] requirements` as the requirements format.
    pub dependencies: Dependencies,
    /// `[python] version` (default 3.11): the Debian suite of the built-in bases.
    pub python: PythonVersion,
    /// `[[python.ignore]]`: request files whose requests [`DeployConfig::python`] may fail, each with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub python_ignores: Vec<PythonIgnore>,
    /// `[base.<name>]`, by name: the written tables, and the built-in `runtime`, `builder` and
    /// `nginx` bases for [`DeployConfig::python`] that are used and not written.
    pub bases: BTreeMap<String, BaseImage>,
    /// `[builder]`, with built-in defaults when the table is absent.
    pub builder: Builder,
    /// `[production]`, with built-in defaults when the table is absent.
    pub production: Production,
    /// `[nginx]`, when the file has one.
    pub nginx: Option<Nginx>,
    /// `[smoke]` and its `[[smoke.check]]` entries, with defaults when the table is absent.
    pub smoke: Smoke,
    /// `[scan]` and its `[[scan.ignore]]` entries, when the file has one.
    pub scan: Option<Scan>,
    /// `[release]`, when the file has one.
    pub release: Option<Release>,
    /// `[context]`, with defaults when the table is absent.
    pub context: ContextRules,
    /// `[assets]`, when the file has one.
    pub assets: Option<Assets>,
    /// `[services.<name>]`, by name: the backing services started on the run's private network for the builder's
    /// tests, smoke and `cargo xtask run`.
    pub services: BTreeMap<String, Service>,
    /// `[dev]`, its defaults when the file has none.
    pub dev: Dev,
    /// `[matrix] python`: the Pythons the builder's tests also run on besides [`DeployConfig::python`], in the order
    /// written; empty without `[matrix]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matrix: Vec<MatrixPython>,
    /// `[platforms] targets`: the platforms the production and nginx images are also made for, besides this machine's,
    /// in the order written; empty without `[platforms]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformImages>,
}

/// Another platform of `[platforms] targets`: the production and nginx images are assembled for it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformImages {
    /// The OCI platform, `linux/arm64`.
    pub platform: String,
    /// Its Debian architecture, `arm64`.
    pub architecture: String,
    /// The production image's base on it: `[base.<runtime>-<arch>]` when written, else Dockyard's built-in runtime
    /// base bootstrapped for the architecture.
    pub runtime_base: String,
    /// The nginx image's base on it, with `[nginx]`.
    pub nginx_base: Option<String>,
    /// `[platforms] engines`: the engine its bases, images, smoke run and push go to (`tcp://arm-builder:2375`, as
    /// `DOCKER_HOST` spells it), a native one instead of emulation on this machine's; `None` for this machine's.
    pub engine: Option<String>,
    /// With its own engine: the base of each `[services.<name>]` on it by service name (`service-db-arm64`), since
    /// the platform's smoke run starts its services there; empty without.
    pub service_bases: BTreeMap<String, String>,
    /// The builder base of its architecture (`builder-arm64`), made only when a package has no wheel for it on the
    /// index: its sdist is built into one in a container of that base. `None` when the builder's base is
    /// deploy.toml's own and no `[base.<builder>-<arch>]` is written.
    pub builder_base: Option<String>,
}

impl PlatformImages {
    /// The bases made for this platform: on its own engine when it has one.
    pub fn bases(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.runtime_base.as_str())
            .chain(self.nginx_base.as_deref())
            .chain(self.service_bases.values().map(String::as_str))
    }
}

/// One more Python of `[matrix] python`: the builder's tests run on it too; the images ship [`DeployConfig::python`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixPython {
    /// The version.
    pub python: PythonVersion,
    /// The base its builder image starts from: `[base.<builder base>-py<XY>]` when written, else Dockyard's built-in
    /// builder base for that Python's suite, with the same `builder.packages` and `production.packages`.
    pub builder_base: String,
}

/// `[dev]`: how `cargo xtask dev` runs the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dev {
    /// What serves the app (default: `runserver`).
    pub server: crate::DevServer,
    /// The host port the app is published on (default: `[app] port`); 0 lets the engine choose a free one.
    pub port: u16,
    /// `[dev.env]`: variables for the dev containers only, over `[app.env]`.
    pub env: BTreeMap<String, String>,
}

impl DeployConfig {
    /// The base image called `name`.
    ///
    /// # Panics
    ///
    /// When there is no such base. The names in [`Builder::base`], [`Production::base`] and
    /// [`Nginx::base`] were checked while resolving, so looking those up never panics.
    pub fn base(&self, name: &str) -> &BaseImage {
        match self.bases.get(name) {
            Some(base) => base,
            None => panic!("no base image named `{name}` in {}", self.file.display()),
        }
    }

    /// The platform of `[platforms]` with its own engine that the base `name` is made for, if any: that base goes to
    /// that engine, every other to this machine's.
    pub fn platform_with_engine_of_base(&self, name: &str) -> Option<&PlatformImages> {
        self.platforms
            .iter()
            .filter(|platform| platform.engine.is_some())
            .find(|platform| {
                platform.bases().any(|base| base == name)
                    || platform.builder_base.as_deref() == Some(name)
            })
    }

    /// Whether the base `name` is made for another platform of `[platforms]` (its runtime, nginx, services' or
    /// builder base): only the goals that make that platform's images need it.
    pub fn is_platform_base(&self, name: &str) -> bool {
        self.platforms.iter().any(|platform| {
            platform.bases().any(|base| base == name)
                || platform.builder_base.as_deref() == Some(name)
        })
    }

    /// Whether the base `name` is made only when a step needs it (a platform's builder base, for a package with no
    /// wheel for that platform), not by the base steps.
    pub fn is_made_on_demand(&self, name: &str) -> bool {
        self.platforms
            .iter()
            .any(|platform| platform.builder_base.as_deref() == Some(name))
    }
}

/// `[project]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// Lowercase letters, digits, `.`, `_` and `-`, at most 64 characters; safe in image names and
    /// file names.
    pub name: String,
    /// `"0.0.0-dev"` when not written; always usable as an image tag.
    pub version: String,
    /// A URL for the `org.opencontainers.image.source` label.
    pub source: Option<String>,
}

/// `[app]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    /// The Django project folder, absolute; it holds `manage.py`.
    pub path: PathBuf,
    /// The dotted Python path of the settings module.
    pub settings_module: String,
    /// `module.path:callable`.
    pub wsgi: String,
    /// The port the app listens on inside the container (1024 to 65535).
    pub port: u16,
    /// The HTTP path answering 200 when the app is up; starts with `/`.
    pub health_path: String,
    /// The argv that runs the tests; never empty.
    pub test_command: Vec<String>,
    /// Where `collectstatic` writes: inside [`App::path`], or an absolute container path outside it.
    pub static_root: StaticRoot,
    /// The runtime environment of containers run from the production image; holds no secrets.
    pub env: BTreeMap<String, String>,
    /// `secrets`: the variables the app reads its secrets from in production (`SECRET_KEY`, an API key); each gets
    /// a throwaway value generated for the run in the builder (tests, collectstatic), smoke and `cargo xtask run`,
    /// never written to an image. `DJANGO_SECRET_KEY` always does.
    pub secrets: Vec<String>,
    /// `[[app.process]]`: the other processes of the production image (a Celery worker, beat), started in smoke
    /// beside the app, each with its own readiness check.
    pub processes: Vec<Process>,
}

/// `[[app.process]]`: a process of the production image other than the web server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    /// `name`: unique among the processes, lowercase letters, digits and `-`; names its container.
    pub name: String,
    /// `command`: the argv, run in the production image with the app's environment; never empty.
    pub command: Vec<String>,
    /// How smoke knows the process is ready.
    pub ready: ProcessReady,
}

/// How smoke knows an `[[app.process]]` is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProcessReady {
    /// `ready_command`: an argv run inside the process's container (`celery -A proj inspect ping`) until it exits
    /// 0, within `ready_timeout_seconds`.
    Command {
        /// The argv.
        command: Vec<String>,
        /// How long to keep trying.
        timeout_seconds: u64,
    },
    /// No `ready_command`: the process is ready when it is still running after `stay_up_seconds` (default 5).
    StaysUp {
        /// How long it must stay up.
        seconds: u64,
    },
}

/// `[services.<name>]`: a backing service (PostgreSQL, Redis, RabbitMQ) from a real image, reached by the app on the
/// run's private network at the host name `<name>`, with credentials generated for each run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The `<name>` of the table: the service's host name on the run's network; lowercase letters, digits and `-`.
    pub name: String,
    /// `kind`.
    pub kind: ServiceKind,
    /// `version` as written (`"15"`, `"7.0"`, `"3.10"`): the running server's version must start with it, component
    /// by component.
    pub version: String,
    /// The `[base]` entry holding the service's image (`service-<name>`): `image` when written, else Dockyard's
    /// image bootstrapped from Debian's packages for that version; used if present, pulled, or bootstrapped.
    pub base: String,
    /// `ready_timeout_seconds`: how long the service may take to answer its readiness check (default 60, 120 for
    /// RabbitMQ).
    pub ready_timeout_seconds: u64,
    /// `env`: the app's environment variables and the part of the connection each receives.
    pub env: BTreeMap<String, ServiceValue>,
}

/// Where the app's Python dependencies come from: `[dependencies]`, or `[app] requirements` (the requirements format
/// with paths relative to `app.path`). Every path is absolute, inside the deploy file's folder, and exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum Dependencies {
    /// pip requirements files; their `-r`/`-c` includes are followed when the builder's upload is planned.
    Requirements {
        /// Installed in the production image; never empty.
        files: Vec<PathBuf>,
        /// Installed in the builder only, for the tests.
        test_files: Vec<PathBuf>,
    },
    /// `pyproject.toml` + `uv.lock`, exported by `uv export --frozen` in the builder.
    Uv {
        /// `pyproject.toml`.
        pyproject: PathBuf,
        /// `uv.lock`, beside it.
        lock: PathBuf,
        /// `[project.optional-dependencies]` names for the production image (`--extra`).
        extras: Vec<String>,
        /// `[dependency-groups]` names for the production image (`--group`).
        groups: Vec<String>,
        /// Extras for the tests only.
        test_extras: Vec<String>,
        /// Dependency groups for the tests only.
        test_groups: Vec<String>,
    },
    /// `pyproject.toml` + `poetry.lock`; the `main` group always, the named groups beside it.
    Poetry {
        /// `pyproject.toml`.
        pyproject: PathBuf,
        /// `poetry.lock`, beside it.
        lock: PathBuf,
        /// Groups for the production image.
        groups: Vec<String>,
        /// Groups for the tests only.
        test_groups: Vec<String>,
    },
    /// `Pipfile.lock`; the `default` category always, the named categories beside it.
    Pipenv {
        /// `Pipfile.lock`.
        lock: PathBuf,
        /// Categories for the production image.
        groups: Vec<String>,
        /// Categories for the tests only (usually `develop`).
        test_groups: Vec<String>,
    },
}

impl Dependencies {
    /// The format's name as deploy.toml spells it.
    pub fn format(&self) -> DependencyFormat {
        match self {
            Dependencies::Requirements { .. } => DependencyFormat::Requirements,
            Dependencies::Uv { .. } => DependencyFormat::Uv,
            Dependencies::Poetry { .. } => DependencyFormat::Poetry,
            Dependencies::Pipenv { .. } => DependencyFormat::Pipenv,
        }
    }
}

/// `[base.<name>]`: an image the builder or production stage starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseImage {
    /// The `<name>` of the table.
    pub name: String,
    /// The image reference.
    pub image: ImageRef,
    /// Whether to pull the image when it is missing locally (default `true`).
    pub pull: bool,
    /// How to build the image from scratch, when it can be bootstrapped.
    pub bootstrap: Option<Bootstrap>,
}

/// `[base.<name>.bootstrap]`: a debootstrap recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bootstrap {
    /// The Debian suite, for example `bookworm`.
    pub suite: String,
    /// The debootstrap variant (default `minbase`).
    pub variant: String,
    /// Extra Debian packages.
    pub packages: Vec<String>,
    /// The Debian mirror, when not the default one.
    pub mirror: Option<String>,
    /// Files written into the root filesystem after the packages are installed (the built-in service images'
    /// entrypoints); empty for a written `[base.<name>.bootstrap]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<BootstrapFile>,
    /// Dockerfile instructions applied when the root filesystem is imported (`ENTRYPOINT`, `CMD`, `ENV`,
    /// `STOPSIGNAL`, `EXPOSE`), after the default `ENV PATH` and `CMD ["/bin/bash"]`; empty for a written table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// The Debian architecture of the root filesystem (`arm64`), bootstrapped under emulation and recorded in the
    /// image's config; `None` for the host's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

/// A file a bootstrap recipe writes into the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootstrapFile {
    /// Absolute path inside the image.
    pub path: String,
    /// The content; written with mode 0755. Serialized as its size, so plans and snapshots stay readable.
    #[serde(serialize_with = "serialize_size")]
    pub content: String,
}

/// `[builder]`: the image that installs the requirements and runs the tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Builder {
    /// The Dockerfile template (default: the built-in one).
    pub dockerfile: Template,
    /// The build context folder (default: the built-in one, holding `dockyard-build`).
    pub context: TemplateFolder,
    /// The name of the base image, a key of [`DeployConfig::bases`].
    pub base: String,
    /// A CA bundle to trust inside the builder, absolute; it exists.
    pub ca_bundle: Option<PathBuf>,
    /// The Docker volume holding pip's cache (default `<project.name>-pip-cache`).
    pub pip_cache_volume: String,
    /// `settings_module`: the settings the builder runs the tests, the asset build and collectstatic with, when not
    /// `[app] settings_module` (production settings that need cloud credentials at import).
    pub settings_module: Option<String>,
    /// `collectstatic_before_tests` (default `false`): collectstatic runs first, for tests that render templates
    /// through a manifest storage.
    pub collectstatic_before_tests: bool,
    /// `[builder.env]`: non-secret variables for the builder only (tests, asset build, collectstatic), over
    /// `[app.env]`; never in an image.
    pub env: BTreeMap<String, String>,
}

/// `[production]`: the image that ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Production {
    /// The Dockerfile template (default: the built-in one).
    pub dockerfile: Template,
    /// The name of the base image, a key of [`DeployConfig::bases`] (default `runtime`).
    pub base: String,
    /// The numeric uid the app runs as; never 0 (default 10001).
    pub user: u32,
}

/// `[nginx]`: the image serving the collected static files and proxying the rest to the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nginx {
    /// The Dockerfile template (default: the built-in one).
    pub dockerfile: Template,
    /// The nginx.conf template (default: the built-in one).
    pub config: Template,
    /// The name of the base image, a key of [`DeployConfig::bases`].
    pub base: String,
    /// The port nginx listens on inside the container (1024 to 65535, default 8080).
    pub port: u16,
    /// The numeric uid nginx runs as; never 0 (default 10101).
    pub user: u32,
    /// The `server_name`s: host names (`*` allowed) and IPv4 addresses; never empty (default
    /// `localhost` and `127.0.0.1`).
    pub server_names: Vec<String>,
    /// The largest request body, in nginx's size syntax such as `10m` (the default).
    pub client_max_body_size: String,
}

/// `[smoke]`: how to check the running containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Smoke {
    /// How long to wait for the containers to answer, 1 to 600 (default 60).
    pub startup_timeout_seconds: u64,
    /// How long stopping a container may take before it is killed, 1 to 120 (default 10).
    pub stop_timeout_seconds: u64,
    /// The largest acceptable production image, in megabytes; above 0.
    pub app_size_budget_mb: Option<u64>,
    /// The largest acceptable nginx image, in megabytes; above 0.
    pub nginx_size_budget_mb: Option<u64>,
    /// The `Host` header of every smoke request (readiness, the built-in and declared checks): `host`, else
    /// nginx's first `server_name`, else `localhost`. The app's `ALLOWED_HOSTS` must accept it.
    pub host: String,
    /// The page the static check renders and reads `/static/` URLs from, following redirects (default `/`);
    /// starts with `/`.
    pub page: String,
    /// Whether smoke's requests carry `X-Forwarded-Proto: https`, as from the TLS terminator in front of nginx
    /// (default `true`, so an app with `SECURE_SSL_REDIRECT` answers instead of redirecting); `false` sends `http`.
    pub https: bool,
    /// Whether smoke runs Django's deployment checks (`manage.py check --deploy`, failing on any warning) and checks
    /// that `DEBUG` is off, in a one-off container of the production image (default `true`).
    pub deploy_checks: bool,
    /// `[smoke.silence]`: system check ids (`security.W008`) the deployment checks accept, each with its reason.
    pub silence: BTreeMap<String, String>,
    /// The extra checks, in the file's order; the built-in ones are not listed here.
    pub checks: Vec<SmokeCheck>,
}

/// `[[smoke.check]]`: one HTTP request and what its response must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmokeCheck {
    /// How the check is reported; unique among the checks.
    pub name: String,
    /// The HTTP path to request; starts with `/`.
    pub path: String,
    /// The container the request goes to (default [`Via::Nginx`], which needs `[nginx]`).
    pub via: Via,
    /// `GET` (the default), `HEAD` or `POST`.
    pub method: HttpMethod,
    /// The expected status, 100 to 599 (default 200).
    pub status: u16,
    /// The `Host` header to send, when not the default.
    pub host: Option<String>,
    /// Dotted paths into the JSON body (`checks.database`), each with the expected value as a
    /// string: JSON scalars compare by their string form.
    pub json: BTreeMap<String, String>,
    /// Response header names, lowercase, each with a substring its value must contain.
    pub headers: BTreeMap<String, String>,
    /// Substrings the body must contain.
    pub body_contains: Vec<String>,
}

/// One `[[python.ignore]]`: the project runs on a Python one of its request files does not allow, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonIgnore {
    /// The request file (absolute).
    pub file: PathBuf,
    /// Why the request does not hold for the containers.
    pub reason: String,
    /// Where it is written, `python.ignore[0]`, for messages.
    pub key: String,
}

/// `[scan]`: the trivy scan gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    /// The trivy release to run, `MAJOR.MINOR.PATCH`, for example `0.76.0`.
    pub trivy_version: String,
    /// The scanners to run, in the file's order, each once; never empty (default `vuln`,
    /// `secret` and `misconfig`).
    pub scanners: Vec<Scanner>,
    /// The images to scan, in the file's order, each once: [`ImageKind::Nginx`] only with
    /// `[nginx]`; never empty (default `app` and `nginx`).
    pub images: Vec<ImageKind>,
    /// The lowest severity of a vulnerability or secret that fails the gate (default
    /// [`Severity::High`]).
    pub fail_on_severity: Severity,
    /// Whether vulnerabilities without a fixed version are left out (default `false`).
    pub ignore_unfixed: bool,
    /// The lowest severity of a misconfiguration that fails the gate, like
    /// [`Scan::fail_on_severity`] (default `HIGH`).
    pub misconfig_fail_on_severity: Severity,
    /// How long one trivy run may take, 10 to 3600 (default 600).
    pub timeout_seconds: u64,
    /// trivy's cache folder, absolute, inside the deploy file's folder; it may not exist yet
    /// (default `target/dockyard/trivy-cache`).
    pub cache_dir: PathBuf,
    /// The OCI repository of trivy's vulnerability database, when not trivy's default.
    pub db_repository: Option<String>,
    /// Use the database already in `cache_dir/db` as it is, never trying to download or update it
    /// (trivy's `--skip-db-update`, its documented air-gapped setup; default `false`). Never set
    /// together with `db_repository`.
    pub skip_db_update: bool,
    /// The accepted risks, in the file's order. Expired entries are kept: whether an entry is
    /// still in force depends on the day of the scan, so the scan gate reports them.
    pub ignores: Vec<ScanIgnore>,
}

/// `[[scan.ignore]]`: an accepted risk, with a reason and an expiry date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanIgnore {
    /// The finding's id, for example `CVE-2019-18276`; no whitespace.
    pub id: String,
    /// Why the risk is accepted; at least 10 characters.
    pub reason: String,
    /// The last day the entry applies.
    pub expires: jiff::civil::Date,
    /// The one image the entry applies to, else every image.
    pub image: Option<ImageKind>,
    /// A package URL, or the start of one (`pkg:deb/debian/bash`), the finding must be in.
    pub package: Option<String>,
    /// The file path, or pattern, the finding must be in.
    pub path: Option<String>,
}

/// `[release]`: where and under which tags the app and nginx images are published.
///
/// Tags are kept as templates; [`Release::render_tag`] fills them in for one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// The registry host (with its port, if any) and an optional namespace path, for example
    /// `ghcr.io/owner` or `localhost:5000`; without one, the release writes image archives.
    pub registry: Option<String>,
    /// The repository path of the app image, after the registry (default `project.name`).
    pub app_repository: String,
    /// The repository path of the nginx image (default `<project.name>-nginx`); `None` without
    /// `[nginx]`. Never the same as [`Release::app_repository`].
    pub nginx_repository: Option<String>,
    /// Tag templates pushed once for a release, in the file's order, each once; never empty
    /// (default `{version}` and `sha-{git_sha}`).
    pub tags: Vec<String>,
    /// Tag templates moved to every new release, in the file's order, each once, none of them in
    /// [`Release::tags`]; may be empty (default `latest`).
    pub moving_tags: Vec<String>,
    /// How many times a push is tried, 1 to 10 (default 4).
    pub push_attempts: u32,
    /// The wait before retrying a failed push, in milliseconds, 0 to 60000 (default 500).
    pub push_backoff_ms: u64,
    /// The name of the environment variable holding the registry username (default
    /// `DOCKYARD_REGISTRY_USERNAME`); never the username itself.
    pub username_env: String,
    /// The name of the environment variable holding the registry password (default
    /// `DOCKYARD_REGISTRY_PASSWORD`); never the password itself.
    pub password_env: String,
    /// The name of the environment variable holding the Ed25519 private key (PKCS#8 PEM) that signs each image's
    /// provenance as a DSSE envelope; `None`: the provenance is pushed unsigned. Never the key itself.
    pub signing_key_env: Option<String>,
}

impl Release {
    /// `template` with `{version}`, `{git_sha}` and `{project}` replaced by the values given.
    ///
    /// Pure substitution: the templates of a resolved [`Release`] were checked to render valid
    /// Docker tags, so nothing is checked here. Anything else in braces is kept as written.
    pub fn render_tag(template: &str, version: &str, git_sha: &str, project: &str) -> String {
        render_tag_template(
            template,
            &TagValues {
                version,
                git_sha,
                project,
            },
        )
    }
}

/// `[context]`: what to leave out of the app's build context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextRules {
    /// The ignore file, absolute: the one written, else `<app>/.dockerignore` when it exists.
    pub dockerignore: Option<PathBuf>,
    /// Extra gitignore-style patterns to leave out.
    pub exclude: Vec<String>,
}

/// `[assets]`: the front-end build (npm, yarn or pnpm) whose output folders `collectstatic` must see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assets {
    /// The folder holding `package.json` (it exists), relative to [`DeployConfig::root`] and inside it.
    pub path: PathBuf,
    /// From `package_manager`; names the lock file.
    pub package_manager: PackageManager,
    /// The install argv (default: the manager's frozen install, such as `npm ci`); never empty.
    pub install_command: Vec<String>,
    /// The build argv (`build_command`, else the manager running `build_script`); never empty. Runs in
    /// [`Assets::path`].
    pub build_command: Vec<String>,
    /// The environment of the install and the build; holds no secrets.
    pub env: BTreeMap<String, String>,
    /// The folders the build writes, each inside [`App::path`] or beside it; never empty with
    /// [`AssetsRunsIn::Node`].
    pub outputs: Vec<AssetOutput>,
    /// Other folders the build reads (the templates Tailwind scans for class names), relative to
    /// [`DeployConfig::root`]: each exists, none lies in [`Assets::path`] (one holding it is uploaded without it), and
    /// none holds or lies in another.
    pub sources: Vec<PathBuf>,
    /// How long the install and the build may take together, 10 to 3600 (default 600).
    pub timeout_seconds: u64,
    /// Where the commands run (default [`AssetsRunsIn::Node`]).
    pub runs_in: AssetsRunsIn,
    /// The name of the Node base image, a key of [`DeployConfig::bases`], with [`AssetsRunsIn::Node`].
    pub base: Option<String>,
}

impl Assets {
    /// The lock file, relative to [`DeployConfig::root`].
    pub fn lock_file(&self) -> PathBuf {
        self.path.join(self.package_manager.lock_file())
    }

    /// The outputs inside the app folder, relative to it.
    pub fn outputs_in_app(&self) -> impl Iterator<Item = &std::path::Path> {
        self.outputs
            .iter()
            .filter_map(|output| match &output.place {
                OutputPlace::InApp(in_app) => Some(in_app.as_path()),
                OutputPlace::Outside(_) => None,
            })
    }

    /// The outputs outside the app folder, at their absolute container paths.
    pub fn outputs_outside(&self) -> impl Iterator<Item = &std::path::Path> {
        self.outputs
            .iter()
            .filter_map(|output| match &output.place {
                OutputPlace::Outside(container) => Some(container.as_path()),
                OutputPlace::InApp(_) => None,
            })
    }
}

/// One output folder of `[assets]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetOutput {
    /// As written, relative to [`DeployConfig::root`].
    pub path: PathBuf,
    /// Where the builder receives it and the production image holds it.
    pub place: OutputPlace,
}

fn serialize_size<S: serde::Serializer>(content: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{} bytes", content.len()))
}
