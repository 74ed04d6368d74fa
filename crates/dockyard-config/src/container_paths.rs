//! Paths inside the containers Dockyard runs: the production image's app folder, the container folders a project's
//! own paths may not claim, and where a static root or an asset output outside the app folder lands.
//!
//! The app folder sits one level below the container root (`/app` in the production image, `/src` in the builder),
//! so a path a project's settings build by climbing out of it (`BASE_DIR / ".." / "public"`) lands at the container
//! root in both (`/public`), as it does in the usual Dockerfile with `WORKDIR /app`.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// The production image's app folder (its `WORKDIR`); the builder's is `builder_protocol::SOURCE_DIR`.
pub const APP_DIR: &str = "/app";

/// Where the nginx image serves the static files from.
pub const NGINX_STATIC_DIR: &str = "/srv/static";

/// Where the Node container of `[assets]` holds the project (the folder of deploy.toml): `/app`, where Dockerfiles
/// conventionally put a project, so a build that names it (Tailwind's `source("/app")`) finds what it expects.
pub const NODE_PROJECT_DIR: &str = "/app";

/// First components of container paths that belong to the base image, the production image's layout or the builder's
/// protocol: a static root or an asset output may not land in them (`/var/www` excepted).
pub const RESERVED_ROOTS: &[&str] = &[
    "app", "bin", "boot", "cache", "data", "deps", "dev", "etc", "home", "kit", "lib", "lib32",
    "lib64", "libx32", "media", "mnt", "opt", "out", "proc", "root", "run", "sbin", "src", "sys",
    "tmp", "usr", "var",
];

/// Where `collectstatic` writes (`STATIC_ROOT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticRoot {
    /// Relative to the app folder and inside it (`staticfiles`).
    InApp(PathBuf),
    /// An absolute container path outside the app folder and outside [`RESERVED_ROOTS`] (`/public_collected`).
    Absolute(PathBuf),
}

impl StaticRoot {
    /// The folder in a container whose app folder is `app_dir` (`/app/staticfiles`, `/public_collected`).
    pub fn in_container(&self, app_dir: &str) -> String {
        match self {
            StaticRoot::InApp(relative) => format!("{app_dir}/{}", slashes(relative)),
            StaticRoot::Absolute(absolute) => slashes(absolute),
        }
    }
}

impl fmt::Display for StaticRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaticRoot::InApp(relative) => f.write_str(&slashes(relative)),
            StaticRoot::Absolute(absolute) => f.write_str(&slashes(absolute)),
        }
    }
}

impl Serialize for StaticRoot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where an `[assets]` output folder lands in the builder and the production image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputPlace {
    /// Inside the app folder, relative to it: it travels with the app source.
    InApp(PathBuf),
    /// Outside the app folder: this absolute container path, the same in the builder and the production image.
    Outside(PathBuf),
}

impl Serialize for OutputPlace {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OutputPlace::InApp(relative) => {
                serializer.collect_str(&format_args!("app/{}", slashes(relative)))
            }
            OutputPlace::Outside(absolute) => serializer.collect_str(&slashes(absolute)),
        }
    }
}

/// Why a container path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerPathProblem {
    /// `/` itself, or climbing out to it with nothing after.
    Root,
    /// `.` or `..` after the leading climb, or not absolute where it must be.
    NotNormal,
    /// Its first component is in [`RESERVED_ROOTS`].
    Reserved(String),
}

/// An absolute container path as written (`/public_collected`), checked: normal, not `/`, not reserved.
pub fn absolute_container_path(written: &str) -> Result<PathBuf, ContainerPathProblem> {
    let path = Path::new(written);
    if !path.is_absolute() {
        return Err(ContainerPathProblem::NotNormal);
    }
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => parts.push(part.to_owned()),
            _ => return Err(ContainerPathProblem::NotNormal),
        }
    }
    checked(parts)
}

/// The container path of `relative` (a path relative to the app folder that climbs out of it with `..`): the
/// climb ends at the container root, so `../public` is `/public`.
pub fn climbed_container_path(relative: &Path) -> Result<PathBuf, ContainerPathProblem> {
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::ParentDir if parts.is_empty() => {}
            Component::Normal(part) => parts.push(part.to_owned()),
            _ => return Err(ContainerPathProblem::NotNormal),
        }
    }
    checked(parts)
}

fn checked(parts: Vec<std::ffi::OsString>) -> Result<PathBuf, ContainerPathProblem> {
    let Some(first) = parts.first() else {
        return Err(ContainerPathProblem::Root);
    };
    let first = first.to_string_lossy();
    // /var/www is the traditional web root (STATIC_ROOT = "/var/www/static"); the rest of /var is the system's.
    let web_root = first == "var" && parts.get(1).is_some_and(|second| second == "www");
    if RESERVED_ROOTS.contains(&first.as_ref()) && !web_root {
        return Err(ContainerPathProblem::Reserved(format!("/{first}")));
    }
    let mut path = PathBuf::from("/");
    path.extend(parts);
    Ok(path)
}

fn slashes(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        assert_eq!(
            absolute_container_path("/public_collected"),
            Ok(PathBuf::from("/public_collected"))
        );
        assert_eq!(
            absolute_container_path("/srv/static/"),
            Ok(PathBuf::from("/srv/static"))
        );
        assert_eq!(
            absolute_container_path("/var/www/static"),
            Ok(PathBuf::from("/var/www/static"))
        );
        assert_eq!(
            absolute_container_path("/var/lib/static"),
            Err(ContainerPathProblem::Reserved("/var".to_owned()))
        );
        assert_eq!(
            absolute_container_path("/"),
            Err(ContainerPathProblem::Root)
        );
        assert_eq!(
            absolute_container_path("/a/../b"),
            Err(ContainerPathProblem::NotNormal)
        );
        assert_eq!(
            absolute_container_path("static"),
            Err(ContainerPathProblem::NotNormal)
        );
        assert_eq!(
            absolute_container_path("/app/static"),
            Err(ContainerPathProblem::Reserved("/app".to_owned()))
        );
        assert_eq!(
            absolute_container_path("/usr/share/static"),
            Err(ContainerPathProblem::Reserved("/usr".to_owned()))
        );
    }

    #[test]
    fn climbed_paths() {
        assert_eq!(
            climbed_container_path(Path::new("../public")),
            Ok(PathBuf::from("/public"))
        );
        assert_eq!(
            climbed_container_path(Path::new("../../public/js")),
            Ok(PathBuf::from("/public/js"))
        );
        assert_eq!(
            climbed_container_path(Path::new("..")),
            Err(ContainerPathProblem::Root)
        );
        assert_eq!(
            climbed_container_path(Path::new("../src/x")),
            Err(ContainerPathProblem::Reserved("/src".to_owned()))
        );
        assert_eq!(
            climbed_container_path(Path::new("../a/../b")),
            Err(ContainerPathProblem::NotNormal)
        );
    }

    #[test]
    fn static_root_in_containers() {
        assert_eq!(
            StaticRoot::InApp("staticfiles".into()).in_container(APP_DIR),
            "/app/staticfiles"
        );
        assert_eq!(
            StaticRoot::Absolute("/public_collected".into()).in_container(APP_DIR),
            "/public_collected"
        );
    }
}
