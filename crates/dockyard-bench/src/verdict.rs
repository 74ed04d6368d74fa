//! Figures against their targets: the ratio to the baseline, the noise measured in the same run, and the verdict.
//!
//! A check passes when the measured value is within its limit. Above the limit but within the measured noise it
//! is "within noise"; past the limit by more than the noise it fails. Quick mode (CI) fails only on `Fail`.

use serde::Serialize;

use crate::stats::Summary;

/// The unit of a figure's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// Wall time in seconds.
    Seconds,
    /// Wall time in milliseconds.
    Milliseconds,
    /// Memory or size in MiB.
    Mebibytes,
    /// Size in KiB (bytes a push sends).
    Kibibytes,
}

impl Unit {
    /// The unit's short name, for tables.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Milliseconds => "ms",
            Unit::Mebibytes => "MiB",
            Unit::Kibibytes => "KiB",
        }
    }
}

/// Which statistic an absolute limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Statistic {
    /// The median of the runs.
    Median,
    /// The worst run (a peak that must stay under a limit in every run).
    Max,
}

/// A target from the issue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Target {
    /// Dockyard's median over the baseline's median at most this.
    RatioAtMost(f64),
    /// Dockyard's value (median or worst run) at most this, in the row's unit.
    ValueAtMost(f64, Statistic),
}

/// One line of BENCHMARKS.md: Dockyard's samples, the baseline's, and the targets they are held to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The figure number (1 to 6).
    pub figure: u8,
    /// What is measured, in words.
    pub name: String,
    /// The unit of both summaries.
    pub unit: Unit,
    /// Dockyard's runs.
    pub dockyard: Summary,
    /// The baseline's runs, when the figure has one.
    pub baseline: Option<Summary>,
    /// What the issue asks (empty: reported only).
    pub targets: Vec<Target>,
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Within the limit.
    Pass,
    /// Over the limit, but by no more than the noise measured in this run.
    WithinNoise,
    /// Over the limit by more than the measured noise.
    Fail,
}

impl Verdict {
    /// The verdict as BENCHMARKS.md writes it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::WithinNoise => "FAIL (within noise)",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One target of one row, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The figure number.
    pub figure: u8,
    /// The row's name.
    pub name: String,
    /// What was compared, e.g. `ratio` or `median`.
    pub measured_what: &'static str,
    /// The measured value (a ratio, or a value in the row's unit).
    pub measured: f64,
    /// The limit it is held to.
    pub limit: f64,
    /// The noise measured in this run, in the same unit as `measured`.
    pub noise: f64,
    /// The verdict.
    pub verdict: Verdict,
}

impl Row {
    /// Dockyard's median over the baseline's, when there is a baseline with a non-zero median.
    pub fn ratio(&self) -> Option<f64> {
        let baseline = self.baseline?;
        (baseline.median != 0.0).then(|| self.dockyard.median / baseline.median)
    }

    /// The ratio's relative noise: the relative spreads of both sides added.
    pub fn ratio_relative_noise(&self) -> f64 {
        self.dockyard.relative_spread()
            + self
                .baseline
                .map_or(0.0, |baseline| baseline.relative_spread())
    }

    /// Every target of this row, evaluated. A ratio target without a baseline is skipped.
    pub fn checks(&self) -> Vec<Check> {
        self.targets
            .iter()
            .filter_map(|target| {
                let (measured_what, measured, limit, noise) = match *target {
                    Target::RatioAtMost(limit) => {
                        let ratio = self.ratio()?;
                        ("ratio", ratio, limit, ratio * self.ratio_relative_noise())
                    }
                    Target::ValueAtMost(limit, Statistic::Median) => (
                        "median",
                        self.dockyard.median,
                        limit,
                        self.dockyard.median * self.dockyard.relative_spread(),
                    ),
                    // A peak is held in every run: the worst run, and no noise allowance above it.
                    Target::ValueAtMost(limit, Statistic::Max) => {
                        ("worst run", self.dockyard.max, limit, 0.0)
                    }
                };
                Some(Check {
                    figure: self.figure,
                    name: self.name.clone(),
                    measured_what,
                    measured,
                    limit,
                    noise,
                    verdict: verdict(measured, limit, noise),
                })
            })
            .collect()
    }
}

/// `measured` against `limit`, allowing `noise` above it before failing.
pub fn verdict(measured: f64, limit: f64, noise: f64) -> Verdict {
    if measured <= limit {
        Verdict::Pass
    } else if measured <= limit + noise.abs() {
        Verdict::WithinNoise
    } else {
        Verdict::Fail
    }
}

/// The checks that fail past their noise: what makes quick mode exit non-zero.
pub fn regressions(rows: &[Row]) -> Vec<Check> {
    rows.iter()
        .flat_map(Row::checks)
        .filter(|check| check.verdict == Verdict::Fail)
        .collect()
}

/// How far past its target a ratio may go in CI before it fails: on a loaded machine both sides slow down, but
/// not always equally, so only a regression this large is taken as real.
pub const CI_RATIO_MARGIN: f64 = 2.0;

/// The regressions CI gates on: only what a loaded machine cannot flip. A peak (memory, bytes) is held to its
/// target; a ratio to a baseline measured in the same run fails only past [`CI_RATIO_MARGIN`] times its target
/// plus the noise; a wall-clock median alone never fails CI (it is reported).
pub fn ci_regressions(rows: &[Row]) -> Vec<Check> {
    rows.iter()
        .flat_map(Row::checks)
        .filter(|check| match check.measured_what {
            "worst run" => check.verdict == Verdict::Fail,
            "ratio" => {
                verdict(check.measured, check.limit * CI_RATIO_MARGIN, check.noise) == Verdict::Fail
            }
            _ => false,
        })
        .collect()
}

/// One line per regression, naming the figure, the measured value, the target and the noise.
pub fn regression_message(check: &Check) -> String {
    format!(
        "figure {} ({}): {} {:.3} is over its target {:.3} by more than the measured noise {:.3}",
        check.figure, check.name, check.measured_what, check.measured, check.limit, check.noise
    )
}

/// A row's name without its parenthesised sizes: `context tarball, generated tree (20000 files, 497 MiB)` and the
/// quick mode's smaller `(2000 files, 47 MiB)` are the same row.
pub fn row_key(name: &str) -> &str {
    name.split(" (").next().unwrap_or(name).trim()
}

/// The rows (figure, [`row_key`]) whose every check is `PASS` in a BENCHMARKS.md: the targets that are met, which
/// quick mode keeps met. A row with a failing check is not met yet, and quick mode only reports it.
pub fn met_rows(benchmarks_markdown: &str) -> std::collections::BTreeSet<(u8, String)> {
    let mut met = std::collections::BTreeSet::new();
    let rows = benchmarks_markdown
        .lines()
        .skip_while(|line| line.trim() != "## Figures")
        .take_while(|line| !line.starts_with("## Commands"));
    for line in rows {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| # | figure | Dockyard | baseline | ratio | target | verdict |` splits into 9 cells.
        let (Some(figure), Some(name), Some(verdict)) = (
            cells.get(1).and_then(|cell| cell.parse::<u8>().ok()),
            cells.get(2),
            cells
                .len()
                .checked_sub(2)
                .and_then(|index| cells.get(index)),
        ) else {
            continue;
        };
        if *verdict != "-" && !verdict.contains("FAIL") {
            met.insert((figure, row_key(name).to_owned()));
        }
    }
    met
}
