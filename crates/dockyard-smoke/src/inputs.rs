//! What the caller hands a smoke run: [`RunContext`] (what every container of the run needs), [`SmokeInputs`]
//! (the rest of a full smoke run), [`ReportPaths`], and the [`Progress`] sink its lines go to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dockyard_config::DeployConfig;
use dockyard_engine::Engine;

use crate::load::LoadOptions;

/// Where a run's progress lines go; the caller decides how they are printed.
pub trait Progress: Sync {
    /// Announces a step (`smoke`, `run`).
    fn step(&self, name: &str, message: &str);
    /// A detail line under the current step.
    fn detail(&self, message: &str);
    /// A line a container printed, with where it comes from (`migrate`, `app`).
    fn output(&self, source: &str, line: &str);
    /// Markdown for the CI job's summary page, when there is one.
    fn step_summary(&self, markdown: &str);
}

/// An image the run starts containers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeImage {
    /// The engine's image id (containers start from it, so a moved tag cannot interfere).
    pub id: String,
    /// Its tag, for messages and the structure report.
    pub reference: String,
}

/// What every container of one run needs: the engine, the configuration, the production image, the run's
/// labels and secret key. Enough for [`crate::run_command`].
pub struct RunContext<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The resolved deploy.toml.
    pub config: &'a DeployConfig,
    /// The production image.
    pub app_image: SmokeImage,
    /// The image of each `[services.<name>]`, by service name: an id the engine has (the base step made sure of it).
    pub service_images: BTreeMap<String, String>,
    /// The run id: part of every name the run creates.
    pub run_id: &'a str,
    /// Labels for every container, network and volume the run creates (the caller removes what carries them).
    pub labels: BTreeMap<String, String>,
    /// A throwaway `DJANGO_SECRET_KEY` for the run's app containers.
    pub secret_key: String,
    /// A folder for the run's temporary files (files downloaded from containers); the caller removes it.
    pub work_dir: PathBuf,
    /// Where progress lines go.
    pub progress: &'a dyn Progress,
}

/// Where the static files are served, as the rendered Dockerfiles and nginx.conf agree on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticFiles<'a> {
    /// The URL prefix, e.g. `/static/`.
    pub url: &'a str,
    /// The image label carrying the sha256 of `staticfiles.json`, on both images when collectstatic wrote one.
    pub manifest_label: &'a str,
    /// The nginx image's label carrying the digest of the static files it serves (`sha256:` and
    /// `dockyard_context::tree_sha256` of the files collectstatic wrote).
    pub tree_label: &'a str,
}

/// Everything a full smoke run needs.
pub struct SmokeInputs<'a> {
    /// The engine, configuration, production image, labels and progress.
    pub run: RunContext<'a>,
    /// The nginx image, when deploy.toml has `[nginx]`.
    pub nginx_image: Option<SmokeImage>,
    /// Where the static files are served.
    pub static_files: StaticFiles<'a>,
    /// Where the reports are written.
    pub reports: ReportPaths,
    /// Remarks for the report that are not checks (e.g. `vulnerability scan not run`).
    pub notes: Vec<String>,
    /// The bounded load after the checks (`smoke --load-seconds`), when asked for.
    pub load: Option<LoadOptions>,
}

/// The report files of one smoke run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaths {
    /// The JSON report.
    pub json: PathBuf,
    /// The JUnit XML report.
    pub junit: PathBuf,
}
