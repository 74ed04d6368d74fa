//! The built-in templates (the repository's `docker/` files, embedded) and [`Template`], a built-in or a project's own file.
//!
//! A deploy.toml that names no template gets these, so a project needs `deploy.toml` alone; naming
//! a file overrides one. Nothing here reads a file: the pipeline reads a [`Template::File`] when it
//! plans.

use std::path::PathBuf;

/// A template the pipeline renders: built in, or a file of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// Embedded in Dockyard: the name it has in the repository's `docker/` folder, and its text.
    BuiltIn(&'static str, &'static str),
    /// A file of the project, absolute; it existed when deploy.toml was loaded.
    File(PathBuf),
}

impl Template {
    /// What to call the template in messages: the file's path, or `built-in <name>`.
    pub fn origin(&self) -> PathBuf {
        match self {
            Template::BuiltIn(name, _) => PathBuf::from(format!("built-in {name}")),
            Template::File(path) => path.clone(),
        }
    }
}

impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.origin().display())
    }
}

/// One file of a built-in folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInFile {
    /// The path inside the folder, `/`-separated.
    pub path: &'static str,
    /// The content.
    pub bytes: &'static [u8],
    /// Whether the file is executable.
    pub executable: bool,
}

/// A folder the pipeline packs as a build context: built in, or a folder of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateFolder {
    /// Embedded in Dockyard: the name it has in the repository's `docker/` folder, and its files.
    BuiltIn(&'static str, &'static [BuiltInFile]),
    /// A folder of the project, absolute; it existed when deploy.toml was loaded.
    Folder(PathBuf),
}

impl TemplateFolder {
    /// What to call the folder in messages: its path, or `built-in <name>`.
    pub fn origin(&self) -> PathBuf {
        match self {
            TemplateFolder::BuiltIn(name, _) => PathBuf::from(format!("built-in {name}")),
            TemplateFolder::Folder(path) => path.clone(),
        }
    }
}

impl serde::Serialize for TemplateFolder {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.origin().display())
    }
}

/// The builder's Dockerfile: installs the requirements and runs the tests.
pub const BUILDER_DOCKERFILE: Template = Template::BuiltIn(
    "docker/builder.Dockerfile",
    include_str!("../../../docker/builder.Dockerfile"),
);

/// The builder's context folder: the `dockyard-build` script the builder runs.
pub const BUILDER_CONTEXT: TemplateFolder = TemplateFolder::BuiltIn(
    "docker/builder",
    &[BuiltInFile {
        path: "dockyard-build",
        bytes: include_bytes!("../../../docker/builder/dockyard-build"),
        executable: true,
    }],
);

/// The production image's Dockerfile.
pub const PRODUCTION_DOCKERFILE: Template = Template::BuiltIn(
    "docker/production.Dockerfile",
    include_str!("../../../docker/production.Dockerfile"),
);

/// The nginx image's Dockerfile.
pub const NGINX_DOCKERFILE: Template = Template::BuiltIn(
    "docker/nginx.Dockerfile",
    include_str!("../../../docker/nginx.Dockerfile"),
);

/// The nginx.conf template.
pub const NGINX_CONFIG: Template = Template::BuiltIn(
    "docker/nginx/nginx.conf",
    include_str!("../../../docker/nginx/nginx.conf"),
);
