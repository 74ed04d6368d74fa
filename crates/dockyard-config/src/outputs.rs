//! Where a project's outputs go: the one home of every path under `target/dockyard/` beside deploy.toml.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The outputs folder, relative to the folder holding deploy.toml.
pub const TARGET_DIR: &str = "target/dockyard";
/// The trivy cache folder's default, relative to the folder holding deploy.toml.
pub const TRIVY_CACHE_DIR: &str = "target/dockyard/trivy-cache";
/// Prefix of a run's temporary work folder (`work-<run id>`), removed when the run ends or by `clean`.
const WORK_PREFIX: &str = "work-";

/// Every output path of one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paths {
    /// `target/dockyard`.
    pub target: PathBuf,
    /// `target/dockyard/state.json`.
    pub state: PathBuf,
    /// The packed app source: `target/dockyard/<name>-source.tar.gz`.
    pub source_tarball: PathBuf,
    /// The exported build context: `target/dockyard/<name>-context.tar.gz`.
    pub context_tarball: PathBuf,
    /// The output folders of the `[assets]` build: `target/dockyard/<name>-assets.tar.gz`.
    pub assets_tarball: PathBuf,
    /// The builder image's build context: `target/dockyard/<name>-builder-context.tar.gz`.
    pub builder_context_tarball: PathBuf,
    /// The nginx image's build context: `target/dockyard/<name>-nginx-context.tar.gz`.
    pub nginx_context_tarball: PathBuf,
    /// Smoke report: `target/dockyard/<name>-smoke.json`.
    pub smoke_json: PathBuf,
    /// Smoke report for CI: `target/dockyard/<name>-smoke.junit.xml`.
    pub smoke_junit: PathBuf,
    /// Scan report: `target/dockyard/<name>-scan.json`.
    pub scan_json: PathBuf,
    /// Scan report for code scanning: `target/dockyard/<name>-scan.sarif`.
    pub scan_sarif: PathBuf,
    /// trivy's own reports, one per image: `target/dockyard/scan/`.
    pub scan_reports: PathBuf,
    /// `target/dockyard/release.json`.
    pub release_json: PathBuf,
    /// Image archives of a release without a registry: `target/dockyard/release/`.
    pub release_archives: PathBuf,
    /// Full logs of every step, one folder per run: `target/dockyard/logs/`.
    pub logs: PathBuf,
    /// Layers kept between runs (the production image's dependencies): `target/dockyard/layers/`.
    pub layers: PathBuf,
    /// The provisioned tools (trivy and the test tools), unless `DOCKYARD_TOOLS_DIR` names another folder:
    /// `target/dockyard/tools/`.
    pub tools: PathBuf,
}

impl Paths {
    /// The paths of project `name` whose deploy.toml lives in `root`.
    pub fn new(root: &Path, name: &str) -> Paths {
        let target = root.join(TARGET_DIR);
        let file = |suffix: &str| target.join(format!("{name}-{suffix}"));
        Paths {
            state: target.join("state.json"),
            source_tarball: file("source.tar.gz"),
            context_tarball: file("context.tar.gz"),
            assets_tarball: file("assets.tar.gz"),
            builder_context_tarball: file("builder-context.tar.gz"),
            nginx_context_tarball: file("nginx-context.tar.gz"),
            smoke_json: file("smoke.json"),
            smoke_junit: file("smoke.junit.xml"),
            scan_json: file("scan.json"),
            scan_sarif: file("scan.sarif"),
            scan_reports: target.join("scan"),
            release_json: target.join("release.json"),
            release_archives: target.join("release"),
            logs: target.join("logs"),
            layers: target.join("layers"),
            tools: target.join("tools"),
            target,
        }
    }

    /// The builder context tarball of another Python of `[matrix] python`, `short_name` being `py313`.
    pub fn matrix_builder_context_tarball(&self, short_name: &str) -> PathBuf {
        let shipped = self
            .builder_context_tarball
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.target.join(shipped.replace(
            "-builder-context.tar.gz",
            &format!("-builder-{short_name}-context.tar.gz"),
        ))
    }

    /// The smoke reports (JSON, JUnit XML) of another platform of `[platforms] targets`, `architecture` being
    /// `arm64`: `<name>-smoke-arm64.json` beside this machine's.
    pub fn platform_smoke_reports(&self, architecture: &str) -> (PathBuf, PathBuf) {
        let beside = |path: &Path, extension: &str| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            path.with_file_name(name.replace(
                &format!("smoke{extension}"),
                &format!("smoke-{architecture}{extension}"),
            ))
        };
        (
            beside(&self.smoke_json, ".json"),
            beside(&self.smoke_junit, ".junit.xml"),
        )
    }

    /// The temporary work folder of run `run_id`.
    pub fn work_dir(&self, run_id: &str) -> PathBuf {
        self.target.join(format!("{WORK_PREFIX}{run_id}"))
    }

    /// The folder holding the step logs of run `run_id`.
    pub fn log_dir(&self, run_id: &str) -> PathBuf {
        self.logs.join(run_id)
    }

    /// Every run work folder present, for `clean`.
    pub fn work_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.target)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| {
                        path.file_name()
                            .and_then(|name| name.to_str())
                            .is_some_and(|name| name.starts_with(WORK_PREFIX))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
