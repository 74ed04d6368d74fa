//! Figure 8: what `[services]` cost. The cold bootstrap of each of Dockyard's service images (mmdebstrap from Debian
//! packages, the import excluded), and what PostgreSQL and Redis add to a smoke run of the sample app:
//! `deploy.services.toml` against `deploy.toml` (same app, same bases), the two sides taking turns, images built.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dockyard_config::service_images::DEBIAN_SERVICES;

use crate::error::{io, BenchError};
use crate::figures::{copy_sample, xtask, Options, Outcome};
use crate::stats::Summary;
use crate::verdict::{Row, Unit};

/// The figure's number in BENCHMARKS.md.
const FIGURE: u8 = 8;
/// The project names of the two sides.
const WITH_SERVICES: &str = "dockyard-bench-services";
const WITHOUT_SERVICES: &str = "dockyard-bench-sqlite";

fn summary(samples: &[f64]) -> Option<Summary> {
    Summary::of(samples)
}

fn reported(
    outcome: &mut Outcome,
    name: String,
    unit: Unit,
    samples: &[f64],
    baseline: Option<&[f64]>,
) {
    if let Some(dockyard) = summary(samples) {
        outcome.rows.push(Row {
            figure: FIGURE,
            name,
            unit,
            dockyard,
            baseline: baseline.and_then(summary),
            targets: Vec::new(),
        });
    }
}

/// The cold bootstrap of every bookworm service image, one run each (each takes tens of seconds).
fn cold_bootstraps(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let folder = options.work.join("service-rootfs");
    std::fs::create_dir_all(&folder).map_err(io("creating", &folder))?;
    for offer in DEBIAN_SERVICES
        .iter()
        .filter(|offer| offer.suite == "bookworm")
    {
        let image = offer.image().to_string();
        progress(&format!(
            "figure 8: bootstrapping {image} from Debian packages"
        ));
        let output = folder.join(format!("{}.tar", offer.kind));
        let started = Instant::now();
        dockyard_base::bootstrap_rootfs(&image, &offer.bootstrap(), None, &output, &mut |_| {})
            .map_err(|error| BenchError::Command {
                what: format!("mmdebstrap for {image}"),
                message: error.to_string(),
            })?;
        let seconds = started.elapsed().as_secs_f64();
        let mebibytes =
            std::fs::metadata(&output).map_or(0, |metadata| metadata.len()) / (1024 * 1024);
        let _ = std::fs::remove_file(&output);
        reported(
            outcome,
            format!(
                "cold bootstrap of {image} ({} {}, {mebibytes} MiB root filesystem)",
                offer.kind, offer.series
            ),
            Unit::Seconds,
            &[seconds],
            None,
        );
    }
    outcome.commands.push((FIGURE, "dockyard_base::bootstrap_rootfs of each bookworm service recipe (mmdebstrap; the import through the engine, a few seconds, not included)".to_owned()));
    Ok(())
}

/// A copy of the sample under `work/<name>` with `deploy_file`, named `name`, without `[scan]` or `[release]`.
pub(crate) fn project(
    options: &Options,
    name: &str,
    deploy_file: &str,
) -> Result<PathBuf, BenchError> {
    let folder = options.work.join(name);
    let deploy_path = options.workspace.join(deploy_file);
    let deploy = std::fs::read_to_string(&deploy_path).map_err(io("reading", &deploy_path))?;
    let deploy = deploy
        .lines()
        .map(|line| {
            if line.starts_with("name = \"dockyard-sample") {
                format!("name = \"{name}\"")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let deploy = match deploy.find("\n[scan]\n") {
        Some(start) => deploy[..start].to_owned() + "\n",
        None => deploy,
    };
    copy_sample(options, &folder, &deploy)?;
    Ok(folder)
}

fn smoke_report(project: &Path, name: &str) -> serde_json::Value {
    let path = dockyard_config::Paths::new(project, name).smoke_json;
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Smoke runs of the sample with and without PostgreSQL + Redis, alternating.
fn smoke_with_and_without(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let with = project(options, WITH_SERVICES, "deploy.services.toml")?;
    let without = project(options, WITHOUT_SERVICES, "deploy.toml")?;
    let sides = [(WITH_SERVICES, &with), (WITHOUT_SERVICES, &without)];
    for (name, folder) in sides {
        progress(&format!("figure 8: building {name} once"));
        let config = folder.join("deploy.toml").display().to_string();
        xtask(options, &["--config", &config, "build"])?;
    }
    let (mut with_ms, mut without_ms) = (Vec::new(), Vec::new());
    let mut ready: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for run in 0..options.runs.max(1) {
        let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let (name, folder) = sides[side];
            progress(&format!("figure 8: run {}: smoke of {name}", run + 1));
            let config = folder.join("deploy.toml").display().to_string();
            xtask(options, &["--config", &config, "smoke"])?;
            let report = smoke_report(folder, name);
            let Some(total) = report["total_ms"].as_f64() else {
                continue;
            };
            if side == 0 {
                with_ms.push(total);
                if let Some(services) = report["service_ready_ms"].as_object() {
                    for (service, ms) in services {
                        ready
                            .entry(service.clone())
                            .or_default()
                            .extend(ms.as_f64());
                    }
                }
            } else {
                without_ms.push(total);
            }
        }
    }
    reported(
        outcome,
        "smoke run of the sample with PostgreSQL 15 + Redis 7.0 (baseline: the same app on SQLite)"
            .to_owned(),
        Unit::Milliseconds,
        &with_ms,
        Some(&without_ms),
    );
    for (service, samples) in &ready {
        reported(
            outcome,
            format!("smoke: service `{service}` from container start to ready"),
            Unit::Milliseconds,
            samples,
            None,
        );
    }
    outcome.commands.push((FIGURE, format!("cargo xtask --config target/bench/{WITH_SERVICES}/deploy.toml smoke against cargo xtask --config target/bench/{WITHOUT_SERVICES}/deploy.toml smoke (copies of deploy.services.toml and deploy.toml without [scan]; images built first; total_ms and service_ready_ms of the smoke reports)")));
    Ok(())
}

/// Figure 8, both halves.
pub(crate) fn figure_services(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    cold_bootstraps(options, outcome, progress)?;
    smoke_with_and_without(options, outcome, progress)
}
