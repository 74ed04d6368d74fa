//! Figures 4 and 6: the cold pipeline (build + nginx + smoke from empty caches) against the docker CLI script run
//! from the same rendered inputs, and the smoke latencies Dockyard's runs report.

use std::path::{Path, PathBuf};

use crate::baseline;
use crate::error::{io, BenchError};
use crate::figures::{
    bench_project, number_after, path_str, summary, xtask, Options, Outcome, BASELINE_PREFIX,
    BENCH_PROJECT,
};
use crate::stats::Summary;
use crate::verdict::{Row, Statistic, Target, Unit};

/// Removes the bench project's and the baseline's images and pip caches: "empty caches, base images present".
fn empty_caches(project: &Path) -> Result<(), BenchError> {
    let tags: Vec<String> = [BENCH_PROJECT, BASELINE_PREFIX]
        .iter()
        .flat_map(|prefix| {
            [
                format!("{prefix}-builder:latest"),
                format!("{prefix}:latest"),
                format!("{prefix}-nginx:latest"),
            ]
        })
        .collect();
    let mut args = vec!["remove-images"];
    args.extend(tags.iter().map(String::as_str));
    baseline::run(&args)?;
    let volumes = [
        format!("{BENCH_PROJECT}-pip-cache"),
        format!("{BASELINE_PREFIX}-pip-cache"),
    ];
    baseline::run(&["remove-volumes", &volumes[0], &volumes[1]])?;
    let _ = std::fs::remove_dir_all(project.join("target"));
    Ok(())
}

/// The rendered inputs the baseline script starts from, taken from Dockyard's first run (builder context, source,
/// the kit's production Dockerfile, the nginx Dockerfile and config, the CA bundle).
fn baseline_inputs(project: &Path, inputs: &Path) -> Result<(), BenchError> {
    let _ = std::fs::remove_dir_all(inputs);
    let paths = dockyard_config::Paths::new(project, BENCH_PROJECT);
    std::fs::create_dir_all(inputs.join("kit")).map_err(io("creating", inputs))?;
    for (from, to) in [
        (&paths.builder_context_tarball, "builder-context.tar.gz"),
        (&paths.source_tarball, "source.tar.gz"),
    ] {
        std::fs::copy(from, inputs.join(to)).map_err(io("copying", from))?;
    }
    let unpack = |tarball: PathBuf, into: PathBuf| -> Result<(), BenchError> {
        let file = std::fs::File::open(&tarball).map_err(io("opening", &tarball))?;
        std::fs::create_dir_all(&into).map_err(io("creating", &into))?;
        dockyard_context::unpack_archive_safely(
            flate2::read::GzDecoder::new(std::io::BufReader::new(file)),
            &into,
        )?;
        Ok(())
    };
    unpack(paths.context_tarball.clone(), inputs.join("context"))?;
    std::fs::copy(
        inputs.join("context/Dockerfile"),
        inputs.join("kit/Dockerfile"),
    )
    .map_err(io("copying", inputs))?;
    let _ = std::fs::remove_dir_all(inputs.join("context"));
    unpack(paths.nginx_context_tarball.clone(), inputs.join("nginx"))?;
    // The builder's dependencies folder as the locked set lays it out for the sample (requirements by their path
    // relative to deploy.toml), and the uv release the builder script installs.
    let deps = inputs.join("deps/app");
    std::fs::create_dir_all(&deps).map_err(io("creating", &deps))?;
    let requirements = project.join("app/requirements.txt");
    std::fs::copy(&requirements, deps.join("requirements.txt"))
        .map_err(io("copying", &requirements))?;
    // The builder protocol's environment as the pipeline gives it (the one home of its names and folders), for
    // `docker create --env-file`; the baseline's dependencies stay in the container (no volume: a cold run).
    let mut environment = dockyard_pipeline::builder_protocol::environment();
    environment.push("DOCKYARD_DEPS_KEY=baseline".to_owned());
    let env_file = inputs.join("builder.env");
    std::fs::write(&env_file, environment.join("\n") + "\n").map_err(io("writing", &env_file))?;
    let ca = std::env::var("DOCKYARD_CA_BUNDLE")
        .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".to_owned());
    std::fs::copy(&ca, inputs.join("ca.pem")).map_err(io("copying", Path::new(&ca)))?;
    Ok(())
}

/// Figures 4 and 6: the cold pipeline (build + nginx + smoke from empty caches) against the docker CLI script,
/// and the smoke latencies Dockyard's runs reported.
pub(crate) fn figure_cold_pipeline(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let project = bench_project(options)?;
    let config = path_str(&project.join("deploy.toml"));
    let inputs = options.work.join("baseline-inputs");
    let baseline_work = path_str(&options.work.join("baseline-work"));
    let inputs_arg = path_str(&inputs);
    // A cold pipeline takes a quarter of a minute a side: as many runs as asked. Both sides download their wheels
    // through the same upstream proxy, whose own cache favours whichever side goes second: the sides take turns
    // going first (Dockyard first in the first run, which also provides the baseline's inputs).
    let runs = options.runs.max(1);
    let (mut dockyard, mut base) = (Vec::new(), Vec::new());
    let (mut healthy, mut total, mut added, mut engine_lag) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let res = (|| -> Result<(), BenchError> {
        for run in 0..runs {
            let dockyard_first = run % 2 == 0;
            for side_is_dockyard in [dockyard_first, !dockyard_first] {
                empty_caches(&project)?;
                if !side_is_dockyard {
                    progress(&format!(
                        "figure 4: run {}: the docker CLI script from empty caches",
                        run + 1
                    ));
                    base.push(
                        baseline::run(&[
                            "cold-pipeline",
                            BASELINE_PREFIX,
                            &inputs_arg,
                            &baseline_work,
                        ])?
                        .0,
                    );
                    continue;
                }
                progress(&format!(
                    "figure 4: run {}: cargo xtask smoke from empty caches",
                    run + 1
                ));
                let (seconds, stdout, stderr) = xtask(options, &["--config", &config, "smoke"])?;
                dockyard.push(seconds);
                let report_path = dockyard_config::Paths::new(&project, BENCH_PROJECT).smoke_json;
                let report: serde_json::Value = std::fs::read_to_string(&report_path)
                    .ok()
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .unwrap_or_default();
                if let Some(ms) = report["start_to_healthy_ms"].as_f64() {
                    healthy.push(ms);
                }
                if let Some(ms) = report["total_ms"].as_f64() {
                    total.push(ms);
                }
                let text = format!("{stdout}\n{stderr}");
                if let Some(gap) = number_after(&text, "ms after the previous probe", true) {
                    added.push(gap);
                }
                if let (Some(http), Some(engine)) = (
                    number_after(&text, "answered 200 after ", false),
                    number_after(&text, "engine health `healthy` after ", false),
                ) {
                    engine_lag.push((engine - http).max(0.0));
                }
                if run == 0 {
                    baseline_inputs(&project, &inputs)?;
                }
            }
            progress(&format!(
                "figure 4: Dockyard {dockyard:.1?} s, baseline {base:.1?} s"
            ));
        }
        Ok(())
    })();
    empty_caches(&project)?;
    res?;
    if options.wants(4) {
        outcome.rows.push(Row {
            figure: 4,
            name: "cold pipeline: build + nginx + smoke, empty caches, base images present"
                .to_owned(),
            unit: Unit::Seconds,
            dockyard: summary("figure 4", &dockyard)?,
            baseline: Some(summary("figure 4 baseline", &base)?),
            targets: vec![Target::RatioAtMost(1.0)],
        });
        outcome.commands.push((4, format!("cargo xtask --config {} smoke (a copy of the sample named {BENCH_PROJECT}, without [scan])", "target/bench/project/deploy.toml")));
        outcome.commands.push((4, baseline::describe(&["cold-pipeline", BASELINE_PREFIX, "INPUTS", "WORK"]) + " (docker build, create, cp, start, cp, build, build, network create, run, curl, stop)"));
        outcome.notes.push(format!("figure 4 ran {runs} runs per side, the sides taking turns to go first: each is a whole cold pipeline (pip downloads through the same proxy included)"));
    }
    if options.wants(6) {
        for (name, samples, targets) in [
            ("smoke: container start to healthy", healthy, Vec::new()),
            ("smoke: the whole smoke run", total, Vec::new()),
            (
                "smoke: wait added after the app answered (poll gap before the first 200)",
                added,
                vec![Target::ValueAtMost(100.0, Statistic::Max)],
            ),
            (
                "smoke: engine health status lag after the first 200 (not waited on)",
                engine_lag,
                Vec::new(),
            ),
        ] {
            if let Some(summary) = Summary::of(&samples) {
                outcome.rows.push(Row {
                    figure: 6,
                    name: name.to_owned(),
                    unit: Unit::Milliseconds,
                    dockyard: summary,
                    baseline: None,
                    targets,
                });
            } else {
                outcome.notes.push(format!(
                    "figure 6: `{name}` was not reported by the smoke runs"
                ));
            }
        }
        outcome.commands.push((6, "from figure 4's Dockyard runs: target/dockyard/<name>-smoke.json (start_to_healthy_ms, total_ms) and the smoke's ready: progress line".to_owned()));
    }
    Ok(())
}
