//! The state file `target/dockyard/state.json`: what the last successful run of each step produced from which inputs.
//!
//! The plan reads it to say what is cached without asking the engine; the run trusts it only after
//! checking the engine (an image with a matching input label) or the file system (a tarball with a matching sha256).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Inputs;
use crate::PipelineError;

/// Everything the last runs recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Base images by their name in deploy.toml.
    #[serde(default)]
    pub bases: BTreeMap<String, BaseRecord>,
    /// The output folders of the `[assets]` build.
    #[serde(default)]
    pub assets: Option<AssetsRecord>,
    /// The builder image.
    #[serde(default)]
    pub builder: Option<ImageRecord>,
    /// The exported build context.
    #[serde(default)]
    pub export: Option<ExportRecord>,
    /// The production image.
    #[serde(default)]
    pub production: Option<ImageRecord>,
    /// The nginx image.
    #[serde(default)]
    pub nginx: Option<ImageRecord>,
    /// The tests that passed on each other Python of `[matrix] python`, by version (`3.13`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matrix: BTreeMap<String, MatrixRecord>,
    /// The images made for each other platform of `[platforms] targets`, by architecture (`arm64`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<String, PlatformRecord>,
}

/// The images of another platform of `[platforms] targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformRecord {
    /// The OCI platform, `linux/arm64`.
    pub platform: String,
    /// Its production image.
    pub production: ImageRecord,
    /// Its nginx image, with `[nginx]`.
    pub nginx: Option<ImageRecord>,
}

/// The tests that passed on another Python of `[matrix] python`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRecord {
    /// The builder image of that Python.
    pub builder: ImageRecord,
    /// The inputs the tests passed with.
    pub inputs: Inputs,
}

/// A base image as the last run found or made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRecord {
    /// Image reference.
    pub image: String,
    /// Image id (`sha256:...`): the digest recorded for the base.
    pub id: String,
    /// Digest of the bootstrap recipe, when it has one.
    pub recipe: Option<String>,
    /// How it was obtained: `present`, `pulled`, `bootstrapped`, or `copied` from this machine's engine to a
    /// platform's own.
    pub origin: String,
}

/// An image built from known inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The tag it was given.
    pub tag: String,
    /// Image id.
    pub id: String,
    /// Its inputs.
    pub inputs: Inputs,
}

/// An exported context tarball.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// Path of the tarball.
    pub path: PathBuf,
    /// Its sha256 (hex).
    pub sha256: String,
    /// sha256 of `staticfiles.json` in it, when there is one.
    pub static_manifest_sha256: Option<String>,
    /// sha256 over the names and bytes of `staticfiles/` in it (empty in a state file written before it was kept).
    #[serde(default)]
    pub static_sha256: String,
    /// Its inputs.
    pub inputs: Inputs,
}

/// The output folders of an `[assets]` build, as one deterministic tarball (paths relative to the app folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetsRecord {
    /// Path of the tarball.
    pub path: PathBuf,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Its inputs.
    pub inputs: Inputs,
}

/// Reads the state file; a missing or unreadable one is an empty state (nothing cached).
pub fn load(path: &Path) -> State {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Writes the state file atomically.
pub fn save(path: &Path, state: &State) -> Result<(), PipelineError> {
    let io_error = |source| PipelineError::Io {
        operation: "writing the state file",
        path: path.to_path_buf(),
        source,
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(io_error)?;
    let temporary = path.with_extension("json.tmp");
    let mut text = serde_json::to_string_pretty(state)
        .map_err(|error| io_error(std::io::Error::other(error)))?;
    text.push('\n');
    std::fs::write(&temporary, text).map_err(io_error)?;
    std::fs::rename(&temporary, path).map_err(io_error)
}
