//! The figures of issue #6 and their shared helpers, each against its baseline in the same run (figures 4 and 6 in
//! `cold`, 7 in `edit_loop`, 8 in `services`, 9 in `dev_loop`, 10 in `platforms`).
//!
//! Dockyard's side always runs as a child process of the xtask binary (`cargo xtask build`, `smoke`, or the
//! hidden `bench-probe`), so wall times include process start, as the baselines' do.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::baseline;
use crate::error::{io, BenchError};
use crate::fixture::{self, TreeSpec};
use crate::probe::PhaseReport;
use crate::stats::Summary;
use crate::verdict::{Row, Statistic, Target, Unit};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Quick mode (CI): smaller fixtures, fewer runs, the figures that fit in a few minutes.
    pub quick: bool,
    /// Runs per figure.
    pub runs: usize,
    /// Only this figure.
    pub only: Option<u8>,
    /// The xtask binary (the running one).
    pub xtask: PathBuf,
    /// The workspace root (its `deploy.toml` and `app/`).
    pub workspace: PathBuf,
    /// Where fixtures, outputs and the bench project live (under target/).
    pub work: PathBuf,
}

/// What the figures produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The rows of BENCHMARKS.md.
    pub rows: Vec<Row>,
    /// The commands each figure ran.
    pub commands: Vec<(u8, String)>,
    /// Notes for the reader.
    pub notes: Vec<String>,
}

impl Options {
    pub(crate) fn wants(&self, figure: u8) -> bool {
        self.only.is_none_or(|only| only == figure)
    }
}

/// The bench project's name: a copy of the sample with its own images, so nobody else's are touched.
pub const BENCH_PROJECT: &str = "dockyard-bench";
/// The prefix of the cold-pipeline baseline's images and volumes.
pub const BASELINE_PREFIX: &str = "dockyard-bench-baseline";
/// The naive single-stage image of figure 5.
pub const NAIVE_TAG: &str = "dockyard-bench-naive:latest";

/// Runs `xtask ARGS...`; returns its wall time, stdout and stderr; fails on a non-zero exit.
pub(crate) fn xtask(options: &Options, args: &[&str]) -> Result<(f64, String, String), BenchError> {
    let started = Instant::now();
    let output = duct::cmd(&options.xtask, args)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(io("running", &options.xtask))?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        return Err(BenchError::Command {
            what: format!("xtask {}", args.join(" ")),
            message: format!(
                "{}\n{}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        });
    }
    Ok((seconds, stdout, stderr))
}

fn phase_reports(stdout: &str) -> Vec<PhaseReport> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

pub(crate) fn summary(what: &str, samples: &[f64]) -> Result<Summary, BenchError> {
    Summary::of(samples).ok_or_else(|| BenchError::Command {
        what: what.to_owned(),
        message: "no samples".to_owned(),
    })
}

pub(crate) fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Runs every figure asked for, in an order that lets later figures reuse earlier work.
pub fn run(options: &Options, progress: &mut dyn FnMut(&str)) -> Result<Outcome, BenchError> {
    let mut outcome = Outcome::default();
    std::fs::create_dir_all(&options.work).map_err(io("creating", &options.work))?;
    // A figure that cannot be measured is a note in BENCHMARKS.md, and the others still run.
    let attempt = |figure: &str, res: Result<(), BenchError>, outcome: &mut Outcome| {
        if let Err(error) = res {
            outcome.notes.push(format!(
                "{figure} not measured: {}",
                error.to_string().replace('\n', " ")
            ));
        }
    };
    if options.wants(1) {
        let res = figure_context_tarball(options, &mut outcome, progress);
        attempt("figure 1", res, &mut outcome);
    }
    if options.wants(2) {
        let res = figure_memory(options, &mut outcome, progress);
        attempt("figure 2", res, &mut outcome);
    }
    if options.wants(3) {
        let res = figure_noop_build(options, &mut outcome, progress);
        attempt("figure 3", res, &mut outcome);
    }
    if options.quick {
        outcome.notes.push(
            "quick mode: figures 4 (cold pipeline), 5 (image size), 6 (smoke latency), 7 (edit loop), 8 (services), 9 (dev loop) and 10 (platforms) take minutes of builds and are measured by the full run only"
                .to_owned(),
        );
        return Ok(outcome);
    }
    if options.wants(5) {
        let res = figure_image_size(options, &mut outcome, progress);
        attempt("figure 5", res, &mut outcome);
    }
    if options.wants(4) || options.wants(6) {
        let res = crate::cold::figure_cold_pipeline(options, &mut outcome, progress);
        attempt("figures 4 and 6", res, &mut outcome);
    }
    if options.wants(7) {
        let res = crate::edit_loop::figure_edit_loop(options, &mut outcome, progress);
        attempt("figure 7", res, &mut outcome);
    }
    if options.wants(8) {
        let res = crate::services::figure_services(options, &mut outcome, progress);
        attempt("figure 8", res, &mut outcome);
    }
    if options.wants(9) {
        let res = crate::dev_loop::figure_dev_loop(options, &mut outcome, progress);
        attempt("figure 9", res, &mut outcome);
    }
    if options.wants(10) {
        let res = crate::platforms::figure_platforms(options, &mut outcome, progress);
        attempt("figure 10", res, &mut outcome);
    }
    outcome.rows.sort_by_key(|row| row.figure);
    outcome.commands.sort_by_key(|(figure, _)| *figure);
    Ok(outcome)
}

/// Figure 1: Dockyard's deterministic tarball against `tar ... | gzip -6`, on the sample app and a generated tree.
fn figure_context_tarball(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let spec = if options.quick {
        TreeSpec {
            n_files: 2_000,
            total_bytes: 50_000_000,
            incompressible_one_in: 4,
            seed: 1,
        }
    } else {
        TreeSpec {
            n_files: 20_000,
            total_bytes: 520_000_000,
            incompressible_one_in: 4,
            seed: 1,
        }
    };
    let generated = options.work.join(format!("fixtures/tree-{}", spec.n_files));
    progress(&format!(
        "figure 1: generating {} under {}",
        spec.describe(),
        generated.display()
    ));
    fixture::ensure_tree(&generated, &spec)?;
    let output = options.work.join("out");
    std::fs::create_dir_all(&output).map_err(io("creating", &output))?;
    let sample = options.workspace.join("app");
    for (label, tree) in [("sample app", sample), ("generated tree", generated)] {
        let (n_files, n_bytes) = fixture::tree_size(&tree);
        let dockyard_out = path_str(&output.join("dockyard.tar.gz"));
        let baseline_out = path_str(&output.join("baseline.tar.gz"));
        let tree_arg = path_str(&tree);
        let probe_args = [
            "bench-probe",
            "pack",
            tree_arg.as_str(),
            dockyard_out.as_str(),
        ];
        let baseline_args = ["tarball", tree_arg.as_str(), baseline_out.as_str()];
        let (mut dockyard, mut base, mut digests) = (Vec::new(), Vec::new(), Vec::new());
        // Alternate, so load from elsewhere falls on both sides alike; the tree was just generated or read, so
        // the page cache is warm for both.
        for _ in 0..options.runs {
            let (seconds, stdout, _) = xtask(options, &probe_args)?;
            let (baseline_seconds, _) = baseline::run(&baseline_args)?;
            dockyard.push(seconds);
            base.push(baseline_seconds);
            digests.extend(
                phase_reports(&stdout)
                    .into_iter()
                    .filter_map(|report| report.sha256),
            );
        }
        digests.dedup();
        let identical = digests.len() == 1;
        progress(&format!(
            "figure 1 ({label}): Dockyard {dockyard:.3?} s, baseline {base:.3?} s, output identical across runs: {identical}"
        ));
        outcome.notes.push(format!(
            "figure 1 ({label}): Dockyard's tarball was byte-identical across all {} runs: {} (sha256 {})",
            options.runs,
            if identical { "yes" } else { "NO" },
            digests.first().map_or("-", |digest| &digest[..12.min(digest.len())])
        ));
        outcome.rows.push(Row {
            figure: 1,
            name: format!(
                "context tarball, {label} ({n_files} files, {} MiB)",
                n_bytes / (1 << 20)
            ),
            unit: Unit::Seconds,
            dockyard: summary("figure 1", &dockyard)?,
            baseline: Some(summary("figure 1 baseline", &base)?),
            targets: if identical {
                vec![Target::RatioAtMost(0.5)]
            } else {
                vec![Target::RatioAtMost(0.0)]
            },
        });
        let _ = std::fs::remove_file(output.join("dockyard.tar.gz"));
        let _ = std::fs::remove_file(output.join("baseline.tar.gz"));
    }
    outcome.commands.push((1, "cargo xtask bench-probe pack TREE OUT (dockyard_context::pack_tree into write_tarball_file)".to_owned()));
    outcome.commands.push((1, baseline::describe(&["tarball", "TREE", "OUT"]) + " (tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C TREE . | gzip -6)"));
    Ok(())
}

/// Figure 2: peak resident memory of the xtask process packing, uploading and downloading a large context.
fn figure_memory(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let spec = if options.quick {
        TreeSpec {
            n_files: 512,
            total_bytes: 128 << 20,
            incompressible_one_in: 2,
            seed: 2,
        }
    } else {
        TreeSpec {
            n_files: 4_096,
            total_bytes: 1 << 30,
            incompressible_one_in: 2,
            seed: 2,
        }
    };
    let tree = options
        .work
        .join(format!("fixtures/memory-{}", spec.n_files));
    progress(&format!(
        "figure 2: generating {} under {}",
        spec.describe(),
        tree.display()
    ));
    fixture::ensure_tree(&tree, &spec)?;
    let (_, n_bytes) = fixture::tree_size(&tree);
    let output = options.work.join("out");
    std::fs::create_dir_all(&output).map_err(io("creating", &output))?;
    let tarball = path_str(&output.join("memory.tar.gz"));
    let download = path_str(&output.join("memory-download.tar"));
    let tree_arg = path_str(&tree);
    let mut peaks: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let runs = options.runs.min(2);
    for _ in 0..runs {
        let (_, stdout, _) = xtask(options, &["bench-probe", "pack", &tree_arg, &tarball])?;
        let (_, stdout_transfer, _) = xtask(
            options,
            &["bench-probe", "upload-download", &tarball, &download],
        )?;
        for report in phase_reports(&stdout)
            .into_iter()
            .chain(phase_reports(&stdout_transfer))
        {
            progress(&format!(
                "figure 2: {} of {} MiB: peak RSS {} MiB in {:.1} s",
                report.phase,
                report.n_bytes >> 20,
                report.peak_rss_kib >> 10,
                report.seconds
            ));
            peaks
                .entry(report.phase)
                .or_default()
                .push(report.peak_rss_kib as f64 / 1024.0);
        }
    }
    let _ = std::fs::remove_file(&tarball);
    let _ = std::fs::remove_file(&download);
    for phase in ["pack", "upload", "download"] {
        let samples = peaks.get(phase).cloned().unwrap_or_default();
        outcome.rows.push(Row {
            figure: 2,
            name: format!(
                "peak RSS of the xtask process, {phase}, {} MiB tree",
                n_bytes >> 20
            ),
            unit: Unit::Mebibytes,
            dockyard: summary("figure 2", &samples)?,
            baseline: None,
            targets: vec![Target::ValueAtMost(100.0, Statistic::Max)],
        });
    }
    outcome.commands.push((2, "cargo xtask bench-probe pack TREE OUT; cargo xtask bench-probe upload-download OUT DOWNLOAD (VmHWM of the child, reset per phase through /proc/self/clear_refs)".to_owned()));
    Ok(())
}

/// Figure 3: `cargo xtask build` with nothing changed against `docker build` of the same contexts, cache warm.
fn figure_noop_build(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let config = path_str(&options.workspace.join("deploy.toml"));
    progress("figure 3: making sure the sample is built (cargo xtask build)");
    xtask(options, &["--config", &config, "build"])?;
    let paths = dockyard_config::Paths::new(&options.workspace, "dockyard-sample");
    let contexts = [
        ("builder", paths.builder_context_tarball.clone()),
        ("production", paths.context_tarball.clone()),
        ("nginx", paths.nginx_context_tarball.clone()),
    ];
    // The builder context is written only when the builder image is built; when another checkout built it,
    // the baseline builds the same rendered Dockerfile from a folder instead, as a person would.
    let builder_folder = options.work.join("builder-context");
    let contexts: Vec<(&str, PathBuf)> = contexts
        .into_iter()
        .map(|(name, path)| {
            if name == "builder" && !path.is_file() {
                render_builder_folder(options, &builder_folder)
                    .map(|()| (name, builder_folder.clone()))
            } else {
                Ok((name, path))
            }
        })
        .collect::<Result<_, BenchError>>()?;
    // A context is written only when its image is built: when the engine already held the image (another checkout
    // built it), build once with --force so the baseline has the same contexts to build from.
    if contexts.iter().any(|(_, path)| !path.exists()) {
        progress("figure 3: a build context is missing; building once with --force to write it");
        xtask(options, &["--config", &config, "build", "--force"])?;
    }
    if let Some((_, missing)) = contexts.iter().find(|(_, path)| !path.exists()) {
        outcome.notes.push(format!(
            "figure 3 not measured: {} is missing (run `cargo xtask build --force` once)",
            missing.display()
        ));
        return Ok(());
    }
    let tags: Vec<String> = contexts
        .iter()
        .map(|(name, _)| format!("{BASELINE_PREFIX}-noop-{name}:latest"))
        .collect();
    let build_all = || -> Result<f64, BenchError> {
        let mut seconds = 0.0;
        for ((_, context), tag) in contexts.iter().zip(&tags) {
            let how = if context.is_dir() {
                "build-dir"
            } else {
                "build"
            };
            seconds += baseline::run(&[how, &path_str(context), tag])?.0;
        }
        Ok(seconds)
    };
    build_all()?; // warm the cache
    let (mut dockyard, mut base) = (Vec::new(), Vec::new());
    let res = (|| -> Result<(), BenchError> {
        for _ in 0..options.runs.max(3) {
            dockyard.push(xtask(options, &["--config", &config, "build"])?.0);
            base.push(build_all()?);
        }
        Ok(())
    })();
    let mut remove = vec!["remove-images"];
    remove.extend(tags.iter().map(String::as_str));
    baseline::run(&remove)?;
    res?;
    progress(&format!(
        "figure 3: Dockyard {dockyard:.3?} s, baseline {base:.3?} s"
    ));
    outcome.rows.push(Row {
        figure: 3,
        name: "no-op build (nothing changed, cache warm)".to_owned(),
        unit: Unit::Seconds,
        dockyard: summary("figure 3", &dockyard)?,
        baseline: Some(summary("figure 3 baseline", &base)?),
        targets: vec![
            Target::ValueAtMost(1.0, Statistic::Median),
            Target::RatioAtMost(0.2),
        ],
    });
    outcome.commands.push((
        3,
        "cargo xtask build (the sample, nothing changed)".to_owned(),
    ));
    outcome.commands.push((3, baseline::describe(&["build", "CONTEXT", "TAG"]) + " for the builder, production and nginx contexts Dockyard rendered (DOCKER_BUILDKIT=0 docker build -q -t TAG - < CONTEXT)"));
    Ok(())
}

/// The builder context as the pipeline renders it for the sample (its Dockerfile filled from deploy.toml and the
/// builder protocol), as one folder.
fn render_builder_folder(options: &Options, folder: &Path) -> Result<(), BenchError> {
    let _ = std::fs::remove_dir_all(folder);
    // The builder context exactly as the pipeline renders it (the one home of the template's values).
    let config = dockyard_config::load(&options.workspace.join("deploy.toml"))
        .map_err(dockyard_pipeline::PipelineError::from)?;
    let provenance = dockyard_pipeline::provenance::detect(&options.workspace);
    let prepared = dockyard_pipeline::plan::prepare(config, provenance)?;
    for member in &prepared.builder_context {
        let path = folder.join(&member.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        std::fs::write(&path, &member.bytes).map_err(io("writing", &path))?;
        if member.executable {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(io("making executable", &path))?;
        }
    }
    Ok(())
}

/// Figure 5: the production image against a naive single-stage image with the toolchain in it.
fn figure_image_size(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let config = path_str(&options.workspace.join("deploy.toml"));
    xtask(options, &["--config", &config, "build"])?;
    progress("figure 5: building the naive single-stage image");
    let app = path_str(&options.workspace.join("app"));
    let work = path_str(&options.work);
    let ca = std::env::var("DOCKYARD_CA_BUNDLE")
        .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".to_owned());
    let built = baseline::run(&[
        "naive-image",
        &app,
        &ca,
        "dockyard/python-builder:bookworm",
        NAIVE_TAG,
        &work,
    ]);
    let sizes = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("starting a runtime for", &options.work))?
        .block_on(async {
            let engine = dockyard_engine::Engine::connect().await?;
            let mut sizes = Vec::new();
            for tag in [
                "dockyard-sample-builder:latest",
                "dockyard-sample:latest",
                "dockyard-sample-nginx:latest",
                NAIVE_TAG,
            ] {
                sizes.push(
                    engine
                        .image(tag)
                        .await?
                        .map(|image| image.size as f64 / (1 << 20) as f64),
                );
            }
            Ok::<_, BenchError>(sizes)
        });
    baseline::run(&["remove-images", NAIVE_TAG])?;
    built?;
    let sizes = sizes?;
    let size = |index: usize| sizes.get(index).copied().flatten().unwrap_or(0.0);
    let one = |value: f64| Summary {
        n: 1,
        median: value,
        min: value,
        max: value,
    };
    outcome.rows.push(Row {
        figure: 5,
        name: "image size, production against naive single-stage".to_owned(),
        unit: Unit::Mebibytes,
        dockyard: one(size(1)),
        baseline: Some(one(size(3))),
        targets: vec![Target::RatioAtMost(0.6)],
    });
    for (index, name) in [(0, "builder"), (2, "nginx")] {
        outcome.rows.push(Row {
            figure: 5,
            name: format!("image size, {name} image"),
            unit: Unit::Mebibytes,
            dockyard: one(size(index)),
            baseline: None,
            targets: Vec::new(),
        });
    }
    outcome.commands.push((
        5,
        baseline::describe(&[
            "naive-image",
            "app",
            "CA",
            "dockyard/python-builder:bookworm",
            NAIVE_TAG,
            "WORK",
        ]) + " (FROM the builder base, COPY app, pip install -r requirements.txt)",
    ));
    Ok(())
}

/// Copies the sample's `app/` and `docker/` into `project` (emptied first) and writes `deploy` as its deploy.toml.
pub(crate) fn copy_sample(
    options: &Options,
    project: &Path,
    deploy: &str,
) -> Result<(), BenchError> {
    let _ = std::fs::remove_dir_all(project);
    for folder in ["app/", "docker/"] {
        copy_tree(
            &options.workspace.join(folder),
            &project.join(folder.trim_end_matches('/')),
        )?;
    }
    let written = project.join("deploy.toml");
    std::fs::write(&written, deploy).map_err(io("writing", &written))
}

/// Copies the sample into `work/project` as the bench project: its own name and pip cache, no [scan] table.
pub(crate) fn bench_project(options: &Options) -> Result<PathBuf, BenchError> {
    let project = options.work.join("project");
    let deploy_path = options.workspace.join("deploy.toml");
    let deploy = std::fs::read_to_string(&deploy_path).map_err(io("reading", &deploy_path))?;
    let deploy = deploy
        .replace(
            "name = \"dockyard-sample\"",
            &format!("name = \"{BENCH_PROJECT}\""),
        )
        .replace(
            "pip_cache_volume = \"dockyard-sample-pip-cache\"",
            &format!("pip_cache_volume = \"{BENCH_PROJECT}-pip-cache\""),
        );
    // The baseline scans nothing, so neither does the timed pipeline.
    let deploy = match (deploy.find("\n[scan]\n"), deploy.find("\n[release]\n")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &deploy[..start], &deploy[end..])
        }
        _ => deploy,
    };
    copy_sample(options, &project, &deploy)?;
    Ok(project)
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(to).map_err(io("creating", to))?;
    for entry in std::fs::read_dir(from)
        .map_err(io("reading", from))?
        .filter_map(Result::ok)
    {
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text == "__pycache__"
            || name_text == "staticfiles"
            || name_text.ends_with(".sqlite3")
        {
            continue;
        }
        let (source, destination) = (entry.path(), to.join(&name));
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            copy_tree(&source, &destination)?;
        } else {
            std::fs::copy(&source, &destination).map_err(io("copying", &source))?;
        }
    }
    Ok(())
}

/// The number just before (`before` = true) or just after `marker` in `text`.
pub fn number_after(text: &str, marker: &str, before: bool) -> Option<f64> {
    let line = text.lines().find(|line| line.contains(marker))?;
    let at = line.find(marker)?;
    if before {
        let head = line[..at].trim_end();
        let start = head
            .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(0, |index| index + 1);
        head[start..].parse().ok()
    } else {
        let tail = &line[at + marker.len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tail.len());
        tail[..end].parse().ok()
    }
}
