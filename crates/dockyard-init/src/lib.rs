//! `cargo xtask init`: inspects a Django project by reading its files (it never runs the project) and writes a
//! commented `deploy.toml` saying what it found and where.
//!
//! [`inspect`] gathers the facts as typed values, [`render`] turns them into the file, [`init`] refuses an existing
//! `deploy.toml` and writes a new one. Keys Dockyard does not support yet (`[dependencies]` for lock files,
//! `[services.*]`) are written anyway: `plan` then refuses the file naming the key, which is the honest reason such a
//! project cannot pass yet; `[assets]` is written with `outputs = []`, which plan refuses until the folders the build
//! writes are named.

mod assets;
mod bundlers;
mod error;
mod inspect;
mod render;
mod services;
mod settings;
mod system;

use std::path::{Path, PathBuf};

use dockyard_python::{DependencyFormat, PythonRequest, PythonVersion};

pub use error::InitError;
pub use inspect::inspect;
pub use render::render;
pub use system::PostgresDriver;

/// The file `init` writes, in the folder it inspects.
pub const DEPLOY_FILE: &str = "deploy.toml";

/// A Python version Dockyard's base images offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferedPython {
    /// What `[python] version` says: `3.11`.
    pub version_key: &'static str,
    /// The release the Debian suite ships, which requests are checked against.
    pub version: PythonVersion,
    /// The Debian suite of the base images.
    pub suite: &'static str,
}

/// The Python versions Dockyard offers, oldest first: dockyard-config's `[python] version` list is their one home.
pub fn offered_pythons() -> &'static [OfferedPython] {
    static OFFERED: std::sync::LazyLock<Vec<OfferedPython>> = std::sync::LazyLock::new(|| {
        dockyard_config::PythonVersion::ALL
            .iter()
            .map(|python| {
                let (major, minor, patch) = python.release();
                OfferedPython {
                    version_key: python.as_str(),
                    version: PythonVersion::new(major, minor, patch),
                    suite: python.debian_suite(),
                }
            })
            .collect()
    });
    &OFFERED
}

/// Where a fact was read: a file relative to the inspected folder and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The file, relative to the inspected folder.
    pub file: PathBuf,
    /// The line, 1-based.
    pub line: usize,
}

impl Evidence {
    pub(crate) fn new(file: &Path, line: usize) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.file.display(), self.line)
    }
}

/// Everything `init` found, before it is rendered.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// `[project] name`, from the folder's name.
    pub project_name: String,
    /// The folder holding `manage.py`, relative to the inspected folder (empty: the folder itself).
    pub app_path: PathBuf,
    /// The settings module chosen, and why.
    pub settings: SettingsChoice,
    /// `module:callable`, and where it was read.
    pub wsgi: Option<(String, Evidence)>,
    /// The dependency format, paths relative to [`Inspection::dependency_root`].
    pub dependencies: Option<DependencyFormat>,
    /// Where the dependency files are, relative to the inspected folder.
    pub dependency_root: PathBuf,
    /// Every Python version request found.
    pub python_requests: Vec<PythonRequest>,
    /// The offered Python those requests map to.
    pub python: PythonChoice,
    /// `STATIC_ROOT`.
    pub static_root: StaticRoot,
    /// How the tests run.
    pub test_runner: TestRunner,
    /// Services the settings name.
    pub services: Vec<Service>,
    /// Secret-looking variables the settings read without a default (they fail at import without one), with where:
    /// `[app] secrets`.
    pub secrets: Vec<(String, Evidence)>,
    /// Where the settings configure Celery, when they do.
    pub celery: Option<Evidence>,
    /// The module defining the Celery app (`celery -A` takes it), when one does.
    pub celery_app: Option<(String, Evidence)>,
    /// Where the settings schedule Celery beat, when they do.
    pub celery_beat: Option<Evidence>,
    /// A front-end build, when a `package.json` with a lock file exists.
    pub assets: Option<Assets>,
    /// A health endpoint the URLs route, and where.
    pub health_path: Option<(String, Evidence)>,
    /// The login page of an admin the URLs route, and where: the page smoke reads without a health endpoint.
    pub admin_login: Option<(String, Evidence)>,
    /// Where the settings the tests run with name a manifest static files storage (the last one named, the test module
    /// first): collectstatic must run before the tests.
    pub tests_need_manifest: Option<Evidence>,
    /// The PostgreSQL driver the dependency files install, and where: the Debian packages it needs.
    pub postgres_driver: Option<(PostgresDriver, Evidence)>,
    /// The host names a literal `ALLOWED_HOSTS` list allows, and where: nginx's `server_names`, smoke asks for the first.
    pub allowed_hosts: Option<(Vec<String>, Evidence)>,
    /// The variable the settings read `ALLOWED_HOSTS` from, and where: smoke's host goes in `[app.env]`.
    pub allowed_hosts_env: Option<(String, Evidence)>,
}

/// The settings module and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChoice {
    /// The module `deploy.toml` names.
    pub module: String,
    /// The `DJANGO_SETTINGS_MODULE` default the project sets.
    pub default: String,
    /// The file setting that default (`manage.py`, `wsgi.py` or `asgi.py`), relative to the inspected folder.
    pub default_from: PathBuf,
    /// Whether `module` is a `production`/`prod` module found beside the default.
    pub production_beside: bool,
}

/// The Python version `[python] version` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonChoice {
    /// The project asks for no version: Dockyard's default applies.
    NotAsked,
    /// The oldest offered version every request allows.
    Offered(&'static OfferedPython),
    /// No offered version satisfies every request: the newest is chosen, and `[[python.ignore]]` entries name the
    /// request files it fails, so the mismatch is written down (and printed by every plan), never silent.
    NoneFits(&'static OfferedPython),
}

/// `STATIC_ROOT` as read from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticRoot {
    /// Not assigned in the settings.
    NotSet,
    /// A folder below the app folder, relative to it.
    Relative(PathBuf, Evidence),
    /// An absolute path, which `deploy.toml` cannot name (it wants a path relative to the app folder).
    Absolute(String, Evidence),
    /// An expression init cannot evaluate without running the settings.
    Unreadable(String, Evidence),
}

/// How the project's tests run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRunner {
    /// `manage.py test`, with the test settings module beside the default when there is one.
    Django {
        /// `--settings` for the tests.
        settings: Option<String>,
    },
    /// pytest with pytest-django, configured where the evidence points, with the settings module that configuration
    /// names (passed as `--ds`: the builder's `DJANGO_SETTINGS_MODULE` would otherwise win over the ini file).
    Pytest(Evidence, Option<String>),
}

/// The kinds of service the settings can name: dockyard-config's `[services.*] kind` is their one home.
pub use dockyard_config::{ServiceKind, ServiceValue};

/// A service the settings name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Which.
    pub kind: ServiceKind,
    /// Where it is named.
    pub evidence: Evidence,
    /// The variables the settings read to reach it, the part of the connection each takes, and where each is read.
    pub env: Vec<(String, ServiceValue, Evidence)>,
}

/// The package managers a lock file tells apart: dockyard-config's `[assets] package_manager` is their one home.
pub use dockyard_config::PackageManager;

/// A front-end build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    /// The folder holding `package.json`, relative to the inspected folder.
    pub folder: PathBuf,
    /// From the lock file beside it.
    pub manager: PackageManager,
    /// The `build` script, when `package.json` has one.
    pub build_script: Option<String>,
    /// Folders outside [`Assets::folder`] the build reads (Tailwind's sources), with the directive naming each.
    pub sources: Vec<(PathBuf, Evidence)>,
    /// Folders the build writes, outermost first, each with where it was found and how it is named there: the
    /// build's own configuration (webpack's `output.path`, vite's `outDir`, a CLI's `-o`) or a `STATICFILES_DIRS`
    /// entry the repository holds empty.
    pub outputs: Vec<(PathBuf, Evidence, String)>,
    /// django-tailwind's theme app (`TAILWIND_APP_NAME`), where it is named, and the path of `manage.py` from
    /// [`Assets::folder`]: its `tailwind build` command is the build, run in the builder.
    pub django_tailwind: Option<(String, Evidence, String)>,
}

/// Inspects `folder`, renders its `deploy.toml` and writes it there; refuses when one exists. Returns the path written
/// and what was found.
pub fn init(folder: &Path) -> Result<(PathBuf, Inspection), InitError> {
    let path = folder.join(DEPLOY_FILE);
    if path.exists() {
        return Err(InitError::AlreadyExists { path });
    }
    let inspection = inspect(folder)?;
    let text = render(&inspection);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => InitError::AlreadyExists { path: path.clone() },
            _ => InitError::Write {
                path: path.clone(),
                source,
            },
        })?;
    Ok((path, inspection))
}
