//! `scan`: trivy on the built images, one at a time (trivy's file cache locks across processes), each exported
//! through the engine to a `docker save` archive so trivy needs no engine socket; then the policy gate in Rust.
//!
//! The shipped images (app, nginx) also get a CycloneDX SBOM from the same archive, written beside the reports.
//!
//! A missing vulnerability database never passes silently: the image is scanned again without the vulnerability
//! scanner, the summary says "vulnerability scan not run", and the caller decides whether that fails the run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dockyard_config::ImageKind;
use dockyard_release::attachments::SbomFile;
use dockyard_release::manifest::{NotScanned, ScanSummaryRecord};
use dockyard_scan::{
    policy::{self, IgnoreEntry, Policy},
    render::{ImageScan, ScanSummary, VulnScanStatus},
    runner::{self, TrivyInvocation},
    sbom::SbomInvocation,
    ScanError,
};
use dockyard_tools::Tool;

use crate::progress;
use crate::run::Session;
use crate::state::ImageRecord;
use crate::PipelineError;

/// What a scan produced.
pub struct ScanOutcome {
    /// Per-image scans and the evaluated findings.
    pub summary: ScanSummary,
    /// The JSON summary on disk.
    pub json_path: PathBuf,
    /// The SARIF report on disk (for GitHub code scanning).
    pub sarif_path: PathBuf,
    /// The CycloneDX SBOM of each shipped image scanned (`app`, `nginx`), by image name.
    pub sboms: Vec<(String, SbomFile)>,
    /// The version of the trivy that ran.
    pub trivy_version: String,
}

impl ScanOutcome {
    /// The SBOM of the image `name` (`app`, `nginx`), when the scan wrote one.
    pub fn sbom(&self, name: &str) -> Option<SbomFile> {
        self.sboms
            .iter()
            .find(|(image, _)| image == name)
            .map(|(_, file)| file.clone())
    }

    /// Images whose vulnerability scan did not run, with the reason.
    pub fn vulnerability_scan_not_run(&self) -> Vec<(String, String)> {
        self.summary
            .images
            .iter()
            .filter_map(|image| match &image.vulnerability_scan {
                VulnScanStatus::NotRun { reason } => Some((image.image.clone(), reason.clone())),
                VulnScanStatus::Ran => None,
            })
            .collect()
    }

    /// The scan as release.json records it.
    pub fn release_record(&self) -> ScanSummaryRecord {
        let evaluation = &self.summary.evaluation;
        ScanSummaryRecord {
            passed: evaluation.passed(),
            findings_over_policy: evaluation.n_failing(),
            suppressed: evaluation.suppressed_counts.values().sum(),
            not_scanned: (self.vulnerability_scan_not_run().into_iter())
                .map(|(image, reason)| NotScanned {
                    image,
                    scanner: "vuln".to_owned(),
                    reason,
                })
                .collect(),
            report: Some(self.json_path.clone()),
        }
    }
}

/// Scans the images `[scan] images` names. `Ok(None)` when deploy.toml has no [scan] table.
pub async fn scan(session: &Session) -> Result<Option<ScanOutcome>, PipelineError> {
    let Some(scan_config) = session.prepared.config.scan.clone() else {
        return Ok(None);
    };
    let started = Instant::now();
    let wanted = scan_config.trivy_version.clone();
    let tools_dir = dockyard_tools::tools_dir(&session.prepared.paths.tools);
    let (program, version) = tokio::task::spawn_blocking(move || {
        let program = trivy_program(&tools_dir, &wanted)?;
        let version = runner::check_trivy_version(&program, &wanted)?;
        Ok::<_, ScanError>((program, version))
    })
    .await
    .map_err(|error| {
        PipelineError::Internal(format!("the trivy version check panicked: {error}"))
    })??;
    progress::step(
        "scan",
        &format!(
            "trivy {version} ({}), scanners {}",
            program.display(),
            runner::scanner_names(&scan_config.scanners, ",")
        ),
    );
    let folder = session
        .prepared
        .paths
        .work_dir(&session.run_id)
        .join("scan");
    let reports_folder = session.prepared.paths.scan_reports.clone();
    for path in [&folder, &reports_folder, &scan_config.cache_dir] {
        std::fs::create_dir_all(path).map_err(|source| PipelineError::Io {
            operation: "creating",
            path: path.clone(),
            source,
        })?;
    }

    let mut reports = Vec::new();
    let mut images = Vec::new();
    let mut sboms = Vec::new();
    // This machine's images, then each other platform's app and nginx images (`app linux/arm64`), without SBOM.
    let mut targets = Vec::new();
    for &image_kind in &scan_config.images {
        targets.push((image_kind, image_kind.as_str().to_owned(), None));
    }
    for &image_kind in &scan_config.images {
        for (architecture, platform) in &session.state.platforms {
            let record = match image_kind {
                ImageKind::App => Some(&platform.production),
                ImageKind::Nginx => platform.nginx.as_ref(),
                ImageKind::Builder => None,
            };
            if let Some(record) = record {
                let name = policy::platform_image_name(image_kind.as_str(), &platform.platform);
                targets.push((
                    image_kind,
                    name,
                    Some((architecture.clone(), record.clone())),
                ));
            }
        }
    }
    for (image_kind, image_name, platform) in targets {
        let image_name = image_name.as_str();
        let image_started = Instant::now();
        let native = platform.is_none();
        let (record, file_stem, engine) = match platform {
            None => (
                image_record(session, image_kind)?,
                image_name.to_owned(),
                &session.engine,
            ),
            Some((architecture, record)) => (
                record,
                format!("{}-{architecture}", image_kind.as_str()),
                session.engine_of(&architecture),
            ),
        };
        let archive = folder.join(format!("{file_stem}.tar"));
        let n_bytes = engine.export_image_to_file(&record.id, &archive).await?;
        progress::detail(&format!(
            "{image_name}: {} exported, {} MiB",
            record.tag,
            n_bytes / (1024 * 1024)
        ));
        let invocation = TrivyInvocation {
            program: program.clone(),
            image_archive: archive.clone(),
            scanners: scan_config.scanners.clone(),
            cache_dir: scan_config.cache_dir.clone(),
            timeout_seconds: scan_config.timeout_seconds,
            db_repository: scan_config.db_repository.clone(),
            skip_db_update: scan_config.skip_db_update,
            output: reports_folder.join(format!("{file_stem}.trivy.json")),
        };
        let (report, vulnerability_scan, scanners) = match run_blocking(invocation.clone()).await? {
            Ok(report) => (report, VulnScanStatus::Ran, invocation.scanners.clone()),
            Err(ScanError::VulnerabilityDatabaseUnavailable { detail, .. }) => {
                progress::warning(&format!(
                    "VULNERABILITY SCAN NOT RUN for {image_name}: trivy could not get its vulnerability database ({detail}); scanning for {} only",
                    runner::scanner_names(&runner::without_vulnerability_scanner(&invocation).scanners, " and ")
                ));
                let reduced = runner::without_vulnerability_scanner(&invocation);
                let scanners = reduced.scanners.clone();
                let report = run_blocking(reduced).await??;
                let reason = "the vulnerability database is unavailable".to_owned();
                (report, VulnScanStatus::NotRun { reason }, scanners)
            }
            Err(error) => return Err(error.into()),
        };
        // The shipped images get a bill of materials from the same archive (no database needed).
        let sbom = if image_kind == ImageKind::Builder || !native {
            None
        } else {
            let invocation = SbomInvocation {
                program: program.clone(),
                image_archive: archive.clone(),
                reference: record.tag.clone(),
                cache_dir: scan_config.cache_dir.clone(),
                timeout_seconds: scan_config.timeout_seconds,
                output: dockyard_scan::sbom::sbom_path(&reports_folder, image_name),
            };
            let output = invocation.output.clone();
            let summary =
                tokio::task::spawn_blocking(move || dockyard_scan::sbom::write_sbom(&invocation))
                    .await
                    .map_err(|error| {
                        PipelineError::Internal(format!("the SBOM writer panicked: {error}"))
                    })??;
            let sha256 = dockyard_context::sha256_file(&output)?;
            sboms.push((
                image_name.to_owned(),
                SbomFile {
                    path: output,
                    sha256,
                    spec_version: summary.spec_version.clone(),
                    components: summary.components,
                },
            ));
            Some(summary)
        };
        let _ = std::fs::remove_file(&archive);
        progress::done(
            &format!("scan {image_name}"),
            image_started,
            &match &sbom {
                Some(sbom) => format!(
                    "{} results; SBOM: CycloneDX {}, {} components ({} Python packages)",
                    report.results.len(),
                    sbom.spec_version,
                    sbom.components,
                    sbom.python_packages.len()
                ),
                None => format!("{} results", report.results.len()),
            },
        );
        reports.push((image_name.to_owned(), report));
        images.push(ImageScan {
            image: image_name.to_owned(),
            reference: record.tag.clone(),
            scanners,
            vulnerability_scan,
        });
    }
    let _ = std::fs::remove_dir_all(&folder);

    let policy = Policy {
        fail_on_severity: scan_config.fail_on_severity,
        ignore_unfixed: scan_config.ignore_unfixed,
        misconfig_fail_on_severity: scan_config.misconfig_fail_on_severity,
        secrets_fail: true,
    };
    let ignores = scan_config
        .ignores
        .iter()
        .map(|entry| IgnoreEntry {
            id: entry.id.clone(),
            reason: entry.reason.clone(),
            expires: dockyard_scan::Date {
                year: i32::from(entry.expires.year()),
                month: entry.expires.month().unsigned_abs(),
                day: entry.expires.day().unsigned_abs(),
            },
            image: entry.image.map(|kind| kind.as_str().to_owned()),
            package: entry.package.clone(),
            path: entry.path.clone(),
        })
        .collect::<Vec<_>>();
    let evaluation = policy::evaluate(&reports, &policy, &ignores, policy::today_utc());
    let summary = ScanSummary { images, evaluation };

    let json_path = session.prepared.paths.scan_json.clone();
    let sarif_path = session.prepared.paths.scan_sarif.clone();
    for (path, text) in [
        (&json_path, dockyard_scan::render::to_json(&summary)),
        (&sarif_path, dockyard_scan::render::to_sarif(&summary)),
    ] {
        std::fs::write(path, text).map_err(|source| PipelineError::Io {
            operation: "writing the scan report",
            path: path.clone(),
            source,
        })?;
    }
    progress::append_step_summary(&dockyard_scan::render::to_markdown(&summary));
    progress::done(
        "scan",
        started,
        &format!("{} findings over policy", summary.evaluation.n_failing()),
    );
    Ok(Some(ScanOutcome {
        summary,
        json_path,
        sarif_path,
        sboms,
        trivy_version: version.clone(),
    }))
}

fn image_record(session: &Session, image_kind: ImageKind) -> Result<ImageRecord, PipelineError> {
    let (record, tag) = match image_kind {
        ImageKind::App => (
            session.state.production.clone(),
            session.prepared.production_tag.clone(),
        ),
        ImageKind::Nginx => (
            session.state.nginx.clone(),
            session
                .prepared
                .nginx
                .as_ref()
                .map(|nginx| nginx.tag.clone())
                .unwrap_or_default(),
        ),
        ImageKind::Builder => (
            session.state.builder.clone(),
            session.prepared.builder_tag.clone(),
        ),
    };
    record.ok_or(PipelineError::MissingArtifact {
        what: "an image to scan (run `cargo xtask build`)",
        path: PathBuf::from(tag),
    })
}

/// The trivy to run for `[scan] trivy_version` = `wanted`. When the pinned tools bring that version: the
/// provisioned one, else one of that version on `PATH` (a machine where it was installed by hand, offline
/// perhaps), else the pinned one provisioned now. Another version comes from `PATH` only.
fn trivy_program(tools_dir: &Path, wanted: &str) -> Result<PathBuf, ScanError> {
    if !Tool::Trivy.provides(wanted) {
        return runner::find_trivy().ok_or(ScanError::TrivyMissing);
    }
    if let Some(toolbox) = dockyard_tools::provisioned(tools_dir) {
        return Ok(toolbox.path(Tool::Trivy));
    }
    if let Some(program) = runner::find_trivy() {
        if runner::check_trivy_version(&program, wanted).is_ok() {
            return Ok(program);
        }
    }
    dockyard_tools::provision(tools_dir, &|line| progress::detail(line))
        .map(|toolbox| toolbox.path(Tool::Trivy))
        .map_err(|error| ScanError::TrivyNotProvisioned {
            reason: error.to_string(),
            hint: error.hint(),
        })
}

/// Runs trivy on a blocking thread.
async fn run_blocking(
    invocation: TrivyInvocation,
) -> Result<Result<dockyard_scan::TrivyReport, ScanError>, PipelineError> {
    tokio::task::spawn_blocking(move || runner::run_trivy(&invocation))
        .await
        .map_err(|error| PipelineError::Io {
            operation: "running trivy",
            path: PathBuf::from("trivy"),
            source: std::io::Error::other(error),
        })
}
