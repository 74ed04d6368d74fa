//! Figure 10: what a second platform costs. The sample for linux/amd64 + linux/arm64 (`deploy.platforms.toml`)
//! against the same sample for this machine alone, the two sides taking turns: cold with the bases present, after a
//! one-line view edit, with nothing changed (the arm64 step is skipped like any unchanged step), and the smoke run
//! (the arm64 images' checks run under emulation). The arm64 step's own median is reported from the build logs.

use std::path::Path;

use dockyard_pipeline::progress::parse_done_line;

use crate::baseline;
use crate::error::{io, BenchError};
use crate::figures::{xtask, Options, Outcome};
use crate::stats::Summary;
use crate::verdict::{Row, Unit};

/// The figure's number in BENCHMARKS.md.
const FIGURE: u8 = 10;
/// The project names of the two sides.
const BOTH: &str = "dockyard-bench-platforms";
const NATIVE: &str = "dockyard-bench-native";
/// The deploy file both sides are copied from; the native side drops its `[platforms]` table.
const DEPLOY_FILE: &str = "deploy.platforms.toml";
/// The step whose own time the figure reports.
const ARM64_STEP: &str = "images arm64";

/// What one round measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    Cold,
    ViewLine,
    Nothing,
    Smoke,
}

impl Round {
    const ALL: [Round; 4] = [Round::Cold, Round::ViewLine, Round::Nothing, Round::Smoke];

    fn describe(self) -> &'static str {
        match self {
            Round::Cold => "cold, bases present: `build` (caches, images and target/ removed)",
            Round::ViewLine => "one line in a view: `build`",
            Round::Nothing => "nothing changed: `build`",
            Round::Smoke => "`smoke` with the images built (arm64's checks under emulation)",
        }
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A copy of the sample for both platforms (`with_platforms`) or for this machine alone, named `name`.
fn project(
    options: &Options,
    name: &str,
    with_platforms: bool,
) -> Result<std::path::PathBuf, BenchError> {
    let folder = crate::services::project(options, name, DEPLOY_FILE)?;
    // A pip cache of its own: the cold rounds remove it, and nobody else's.
    let path = folder.join("deploy.toml");
    let text = std::fs::read_to_string(&path).map_err(io("reading", &path))?;
    let text = text.replace(
        "pip_cache_volume = \"dockyard-sample-pip-cache\"",
        &format!("pip_cache_volume = \"{name}-pip-cache\""),
    );
    std::fs::write(&path, &text).map_err(io("writing", &path))?;
    if !with_platforms {
        let start = text
            .find("[platforms]\n")
            .ok_or_else(|| BenchError::Command {
                what: format!("reading {DEPLOY_FILE}"),
                message: "it has no [platforms] table".to_owned(),
            })?;
        let end = text[start..]
            .find("\n\n")
            .map_or(text.len(), |end| start + end + 2);
        let native = format!("{}{}", &text[..start], &text[end..]);
        std::fs::write(&path, native).map_err(io("writing", &path))?;
    }
    Ok(folder)
}

/// A side's cold start: its caches, its images (every platform's) and its target/ removed.
fn cold(options: &Options, name: &str, folder: &Path) -> Result<(), BenchError> {
    let config = path_str(&folder.join("deploy.toml"));
    xtask(options, &["--config", &config, "clean", "--caches"])?;
    let tags: Vec<String> = ["", "-nginx", "-builder"]
        .iter()
        .flat_map(|suffix| ["latest", "latest-arm64"].map(|tag| format!("{name}{suffix}:{tag}")))
        .collect();
    let mut args = vec!["remove-images"];
    args.extend(tags.iter().map(String::as_str));
    baseline::run(&args)?;
    let _ = std::fs::remove_dir_all(folder.join("target"));
    Ok(())
}

/// Appends round `run`'s edit to the copy's view, so each round rebuilds.
fn edit_view(folder: &Path, run: usize) -> Result<(), BenchError> {
    let path = folder.join("app/notes/views.py");
    let mut text = std::fs::read_to_string(&path).map_err(io("reading", &path))?;
    text.push_str(&format!("# bench edit {run}\n"));
    std::fs::write(&path, text).map_err(io("writing", &path))
}

/// Figure 10.
pub(crate) fn figure_platforms(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let both = project(options, BOTH, true)?;
    let native = project(options, NATIVE, false)?;
    let sides = [(BOTH, both.as_path()), (NATIVE, native.as_path())];
    // The arm64 bases are bootstrapped once, outside the measurements (minutes under emulation).
    for (name, folder) in sides {
        progress(&format!("figure 10: building {name} once"));
        xtask(
            options,
            &["--config", &path_str(&folder.join("deploy.toml")), "build"],
        )?;
    }
    for round in Round::ALL {
        let (mut with, mut without, mut step) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..options.runs.max(1) {
            let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                let (name, folder) = sides[side];
                let config = path_str(&folder.join("deploy.toml"));
                match round {
                    Round::Cold => cold(options, name, folder)?,
                    Round::ViewLine => edit_view(folder, run)?,
                    Round::Nothing | Round::Smoke => {}
                }
                let goal = if round == Round::Smoke {
                    "smoke"
                } else {
                    "build"
                };
                progress(&format!(
                    "figure 10: {}, run {}: {name}",
                    round.describe(),
                    run + 1
                ));
                let (seconds, _, log) = xtask(options, &["--config", &config, goal])?;
                if side == 0 {
                    with.push(seconds);
                    step.extend(
                        log.lines()
                            .filter_map(parse_done_line)
                            .filter(|(name, _)| *name == ARM64_STEP)
                            .map(|(_, seconds)| seconds),
                    );
                } else {
                    without.push(seconds);
                }
            }
        }
        if let Some(dockyard) = Summary::of(&with) {
            outcome.rows.push(Row {
                figure: FIGURE,
                name: format!(
                    "[platforms] linux/amd64 + linux/arm64, {} (baseline: the same sample for this machine alone)",
                    round.describe()
                ),
                unit: Unit::Seconds,
                dockyard,
                baseline: Summary::of(&without),
                targets: Vec::new(),
            });
        }
        if let Some(dockyard) = Summary::of(&step) {
            outcome.rows.push(Row {
                figure: FIGURE,
                name: format!(
                    "[platforms], {}: step `{ARM64_STEP}` alone, per image (production, nginx; the production image's dependencies layer made under emulation when its wheels or base changed)",
                    round.describe()
                ),
                unit: Unit::Seconds,
                dockyard,
                baseline: None,
                targets: Vec::new(),
            });
        }
    }
    outcome.commands.push((FIGURE, format!("cargo xtask --config target/bench/{BOTH}/deploy.toml build|smoke against cargo xtask --config target/bench/{NATIVE}/deploy.toml build|smoke (copies of {DEPLOY_FILE}, the second without [platforms]; cold: `clean --caches`, every platform's images and target/ removed; the arm64 bases present; the step's seconds from the plain log)")));
    Ok(())
}
