//! The steps of the pipeline: one enum owns their names, their order and which ones run side by side.

use std::fmt;

use dockyard_config::PythonVersion;
use serde::Serialize;

/// One step the executor can run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum Step {
    /// Makes sure one base image of `[base.NAME]` is in the engine: present, pulled or bootstrapped.
    Base(String),
    /// The front-end build of `[assets]` in a Node container, whose output folders the builder receives.
    Assets,
    /// The builder image.
    BuilderImage,
    /// The builder container and the deterministic context tarball it exports.
    Export,
    /// The builder's tests on another Python of `[matrix] python`, in a builder image of that Python.
    MatrixTests(PythonVersion),
    /// The production image, from the exported context alone.
    ProductionImage,
    /// The nginx image, from the exported static files alone.
    NginxImage,
    /// The production and nginx images of another platform of `[platforms] targets` (its Debian architecture).
    PlatformImages(String),
    /// trivy on the images and the policy gate.
    Scan,
    /// The containers on a private network, checked.
    Smoke,
    /// `release.json`, and for a release the tags and pushes.
    Release,
    /// A one-off command in a container of the production image.
    Command,
    /// `cargo xtask dev`: the development session (or a one-off command beside it) in containers of the builder image.
    Dev,
}

impl Step {
    /// The name shown in progress lines, plans and log file names (`base runtime`, `builder image`, ...).
    pub fn name(&self) -> String {
        match self {
            Step::Base(name) => format!("base {name}"),
            Step::Assets => "assets".to_owned(),
            Step::BuilderImage => "builder image".to_owned(),
            Step::Export => "export".to_owned(),
            Step::MatrixTests(python) => format!("tests python {python}"),
            Step::ProductionImage => "production image".to_owned(),
            Step::NginxImage => "nginx image".to_owned(),
            Step::PlatformImages(architecture) => format!("images {architecture}"),
            Step::Scan => "scan".to_owned(),
            Step::Smoke => "smoke".to_owned(),
            Step::Release => "release".to_owned(),
            Step::Command => "run".to_owned(),
            Step::Dev => "dev".to_owned(),
        }
    }

    /// The file name of this step's full log under `target/dockyard/logs/<run>/`.
    pub fn log_file_name(&self) -> String {
        format!("{}.log", self.name().replace(' ', "-"))
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<Step> for String {
    fn from(step: Step) -> String {
        step.name()
    }
}

/// Steps that run at the same time; the executor runs stages one after another.
pub type Stage = Vec<Step>;
