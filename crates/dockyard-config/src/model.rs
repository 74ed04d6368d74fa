//! The validated, resolved configuration: what the rest of Dockyard reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::image_reference::ImageRef;

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
    /// `[base.<name>]`, by name; never empty.
    pub bases: BTreeMap<String, BaseImage>,
    /// `[builder]`.
    pub builder: Builder,
    /// `[production]`.
    pub production: Production,
    /// `[context]`, with defaults when the table is absent.
    pub context: ContextRules,
}

impl DeployConfig {
    /// The base image called `name`.
    ///
    /// # Panics
    ///
    /// When there is no such base. The names in [`Builder::base`] and [`Production::base`] were
    /// checked while resolving, so looking those up never panics.
    pub fn base(&self, name: &str) -> &BaseImage {
        match self.bases.get(name) {
            Some(base) => base,
            None => panic!("no base image named `{name}` in {}", self.file.display()),
        }
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
    /// Pip requirement files, relative to [`App::path`]; never empty; each one exists.
    pub requirements: Vec<PathBuf>,
    /// Extra pip requirement files for the test run, relative to [`App::path`]; each one exists.
    pub test_requirements: Vec<PathBuf>,
    /// The argv that runs the tests; never empty.
    pub test_command: Vec<String>,
    /// Where `collectstatic` writes, relative to [`App::path`] and inside it.
    pub static_root: PathBuf,
    /// The runtime environment of containers run from the production image; holds no secrets.
    pub env: BTreeMap<String, String>,
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
}

/// `[builder]`: the image that installs the requirements and runs the tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Builder {
    /// The Dockerfile, absolute; it exists.
    pub dockerfile: PathBuf,
    /// The build context folder, absolute; it exists.
    pub context: PathBuf,
    /// The name of the base image, a key of [`DeployConfig::bases`].
    pub base: String,
    /// A CA bundle to trust inside the builder, absolute; it exists.
    pub ca_bundle: Option<PathBuf>,
    /// The Docker volume holding pip's cache (default `<project.name>-pip-cache`).
    pub pip_cache_volume: String,
}

/// `[production]`: the image that ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Production {
    /// The Dockerfile, absolute; it exists.
    pub dockerfile: PathBuf,
    /// The name of the base image, a key of [`DeployConfig::bases`].
    pub base: String,
    /// The numeric uid the app runs as; never 0 (default 10001).
    pub user: u32,
}

/// `[context]`: what to leave out of the app's build context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextRules {
    /// The ignore file, absolute: the one written, else `<app>/.dockerignore` when it exists.
    pub dockerignore: Option<PathBuf>,
    /// Extra gitignore-style patterns to leave out.
    pub exclude: Vec<String>,
}
