//! The work a measured child process (`cargo xtask bench-probe`) does, and its own peak resident memory.
//!
//! The harness runs each phase in a fresh child, so the peak belongs to that phase alone: the child resets its
//! high-water mark (`/proc/self/clear_refs`) before the phase and reads `VmHWM` from `/proc/self/status` after.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use dockyard_context::PackOptions;
use dockyard_engine::{ContainerSpec, Engine, PROJECT_LABEL, RUN_LABEL};
use serde::{Deserialize, Serialize};

use crate::error::BenchError;

/// The image the upload and download phases create their container from (a base image Dockyard has anyway).
pub const PROBE_IMAGE: &str = "dockyard/python-runtime:bookworm";
/// The project label value on the probe's container.
pub const PROBE_PROJECT: &str = "dockyard-bench";

/// What one phase measured, printed by the child as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseReport {
    /// `pack`, `upload` or `download`.
    pub phase: String,
    /// Wall time of the phase itself, in seconds.
    pub seconds: f64,
    /// The process's peak resident memory during the phase, in KiB (`VmHWM`).
    pub peak_rss_kib: u64,
    /// Bytes written or moved.
    pub n_bytes: u64,
    /// sha256 of the tarball, for the pack phase.
    pub sha256: Option<String>,
}

/// The process's peak resident memory in KiB (`VmHWM`), 0 when /proc cannot tell.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Resets the peak to the current resident memory, so the next reading is this phase's alone.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Packs `tree` into `output` with Dockyard's deterministic packer, the way the export re-packs a tree.
pub fn pack(tree: &Path, output: &Path) -> Result<PhaseReport, BenchError> {
    reset_peak_rss();
    let started = Instant::now();
    let summary = dockyard_context::write_tarball_file(output, |out| {
        dockyard_context::pack_tree(tree, &PackOptions { mtime: 0 }, out)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(PhaseReport {
        phase: "pack".to_owned(),
        seconds,
        peak_rss_kib: peak_rss_kib(),
        n_bytes: std::fs::metadata(output).map_or(0, |metadata| metadata.len()),
        sha256: Some(summary.sha256),
    })
}

/// Uploads `tarball` into a fresh, labelled container through the engine, downloads it back to `download`, and
/// removes the container (also when a phase fails).
pub async fn upload_and_download(
    tarball: &Path,
    download: &Path,
) -> Result<Vec<PhaseReport>, BenchError> {
    let engine = Engine::connect().await?;
    let spec = ContainerSpec {
        name: Some(format!("{PROBE_PROJECT}-probe-{}", std::process::id())),
        image: PROBE_IMAGE.to_owned(),
        cmd: vec!["true".to_owned()],
        labels: BTreeMap::from([
            (
                RUN_LABEL.to_owned(),
                format!("bench-probe-{}", std::process::id()),
            ),
            (PROJECT_LABEL.to_owned(), PROBE_PROJECT.to_owned()),
        ]),
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&spec).await?;
    let res = upload_and_download_into(&engine, &container, tarball, download).await;
    let removed = engine.remove_container(&container).await;
    let reports = res?;
    removed?;
    Ok(reports)
}

async fn upload_and_download_into(
    engine: &Engine,
    container: &str,
    tarball: &Path,
    download: &Path,
) -> Result<Vec<PhaseReport>, BenchError> {
    reset_peak_rss();
    let started = Instant::now();
    engine.upload_tar_file(container, "/tmp", tarball).await?;
    let upload = PhaseReport {
        phase: "upload".to_owned(),
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
        n_bytes: std::fs::metadata(tarball).map_or(0, |metadata| metadata.len()),
        sha256: None,
    };
    reset_peak_rss();
    let started = Instant::now();
    let n_bytes = engine
        .download_to_file(container, "/tmp/.", download)
        .await?;
    let download = PhaseReport {
        phase: "download".to_owned(),
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
        n_bytes,
        sha256: None,
    };
    Ok(vec![upload, download])
}
