//! deploy.toml: reading it, checking it, and resolving it into a [`DeployConfig`].
//!
//! Two steps, in the manner of ripgrep's configuration: [`raw`] mirrors the file with serde (every
//! table denies unknown keys), then resolving checks every value, applies defaults, parses image
//! references and resolves paths against the folder holding the file, never against the process's
//! working directory.
//!
//! Errors are meant to be shown to people as they are; see [`ConfigError`]:
//!
//! ```text
//! deploy.toml:12:1: unknown key `prot` in `[app]`
//! hint: did you mean `port`?
//! ```
//!
//! The only IO is reading the file ([`load`]) and looking at the files and folders it names.
#![warn(missing_docs)]

mod choices;
pub mod container_paths;
mod error;
mod image_reference;
mod model;
mod names;
pub mod outputs;
mod paths;
pub mod raw;
mod resolve;
pub mod service_images;
mod source_map;
mod suggestions;
mod tag_template;
pub mod templates;
mod toml_errors;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::choices::{
    AssetsRunsIn, DependencyFormat, DevServer, HttpMethod, ImageKind, PackageManager,
    PythonVersion, Scanner, ServiceKind, ServiceValue, Severity, Via,
};
pub use crate::error::ConfigError;
pub use crate::image_reference::{is_valid_tag, ImageRef, MAXIMUM_TAG_LENGTH};
pub use crate::model::{
    App, AssetOutput, Assets, BaseImage, Bootstrap, BootstrapFile, Builder, ContextRules,
    Dependencies, DeployConfig, Dev, MatrixPython, Nginx, PlatformImages, Process, ProcessReady,
    Production, Project, PythonIgnore, Release, Scan, ScanIgnore, Service, Smoke, SmokeCheck,
};
pub use crate::names::looks_like_secret_name;
pub use crate::outputs::Paths;
pub use crate::resolve::{native_architecture, native_platform, wheel_machine};
pub use crate::templates::{BuiltInFile, Template, TemplateFolder};

use crate::error::SourceText;

/// Reads, checks and resolves the deploy file at `path`.
///
/// Errors name `path` as given (so `deploy.toml:3:1: ...` when called with `deploy.toml`), while
/// relative paths inside the file resolve against the canonical form of the file's folder, so
/// [`DeployConfig::root`] and every resolved path are absolute.
pub fn load(path: &Path) -> Result<DeployConfig, ConfigError> {
    let unreadable = |source: std::io::Error| ConfigError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let root = std::fs::canonicalize(folder).map_err(unreadable)?;
    let file_name = path.file_name().ok_or_else(|| {
        unreadable(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path does not end in a file name",
        ))
    })?;
    let absolute_file: PathBuf = root.join(file_name);
    resolve_text(&text, path, &absolute_file)
}

/// Checks and resolves `text`, the content of the deploy file `file`.
///
/// `file` is used twice: as given, to name the file in errors, and through its parent folder,
/// against which every relative path in the text is resolved. Pass an absolute `file` (as
/// [`load`] does): with a relative one, resolved paths stay relative to that relative folder
/// (`deploy.toml` alone gives paths relative to nothing, that is to whatever the working
/// directory is when they are used), and the existence checks depend on the working directory.
pub fn parse(text: &str, file: &Path) -> Result<DeployConfig, ConfigError> {
    resolve_text(text, file, file)
}

/// Parses `text`, naming it `shown_file` in errors and resolving paths against `file`'s folder.
fn resolve_text(text: &str, shown_file: &Path, file: &Path) -> Result<DeployConfig, ConfigError> {
    let source = SourceText { text, shown_file };
    let document = toml::de::DeTable::parse(text)
        .map_err(|error| toml_errors::describe_syntax_error(source, &error))?;
    let nodes = source_map::list_document_nodes(&document);
    let document = raw::Document::deserialize(toml::de::Deserializer::from(document))
        .map_err(|error| toml_errors::describe_schema_error(source, &nodes, &error))?;
    let root = file.parent().unwrap_or(Path::new(""));
    resolve::resolve_document(source, file, root, document)
}
