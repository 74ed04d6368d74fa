//! BENCHMARKS.md: the machine, the figures with their ratios and verdicts, and the commands that produced them.

use std::fmt::Write as _;

use crate::machine::Machine;
use crate::verdict::{Row, Target, Unit};

/// Everything one `cargo xtask bench` run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `full` or `quick`.
    pub mode: String,
    /// Runs per figure asked for.
    pub runs: usize,
    /// When the run started (UTC, as `date -u` prints it).
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// The figures.
    pub rows: Vec<Row>,
    /// What each figure ran: (figure, command).
    pub commands: Vec<(u8, String)>,
    /// Anything a reader must know about this run (load, skipped figures).
    pub notes: Vec<String>,
}

fn value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds if value < 10.0 => format!("{value:.3} s"),
        Unit::Seconds => format!("{value:.1} s"),
        Unit::Milliseconds => format!("{value:.0} ms"),
        Unit::Mebibytes => format!("{value:.1} MiB"),
        Unit::Kibibytes => format!("{value:.1} KiB"),
    }
}

fn summary_cell(summary: &crate::Summary, unit: Unit) -> String {
    if summary.n == 1 {
        return format!("{} (1 run)", value(summary.median, unit));
    }
    format!(
        "{} ({} to {}, {} runs)",
        value(summary.median, unit),
        value(summary.min, unit),
        value(summary.max, unit),
        summary.n
    )
}

fn target_text(target: &Target, unit: Unit) -> String {
    match target {
        Target::RatioAtMost(limit) => format!("ratio <= {limit}"),
        Target::ValueAtMost(limit, crate::Statistic::Median) => {
            format!("median <= {}", value(*limit, unit))
        }
        Target::ValueAtMost(limit, crate::Statistic::Max) => {
            format!("every run <= {}", value(*limit, unit))
        }
    }
}

/// The Markdown text of BENCHMARKS.md.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let machine = &report.machine;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench{}` ({} mode, {} runs per figure unless a row says otherwise) on {}.",
        if report.mode == "quick" { " --quick" } else { "" },
        report.mode,
        report.runs,
        report.date
    );
    let _ = writeln!(
        out,
        "Each figure is measured against its baseline in the same run; a cell shows the median, then the smallest and largest run."
    );
    let _ = writeln!(
        out,
        "A check is within noise when it is over its target by no more than the spread measured in this run; quick mode (CI) fails only past that.\n"
    );
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(
        out,
        "| cores | memory | kernel | docker engine | tar | gzip | rustc |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        machine.cores,
        machine.memory,
        machine.kernel,
        machine.engine,
        machine.tar,
        machine.gzip,
        machine.rustc
    );
    let _ = writeln!(out, "## Figures\n");
    let _ = writeln!(
        out,
        "| # | figure | Dockyard | baseline | ratio | target | verdict |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    for row in &report.rows {
        let checks = row.checks();
        let ratio = row.ratio().map_or_else(
            || "-".to_owned(),
            |ratio| {
                format!(
                    "{ratio:.3}x (noise ±{:.3})",
                    ratio * row.ratio_relative_noise()
                )
            },
        );
        let targets = if row.targets.is_empty() {
            "reported".to_owned()
        } else {
            row.targets
                .iter()
                .map(|target| target_text(target, row.unit))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let verdicts = if checks.is_empty() {
            "-".to_owned()
        } else {
            checks
                .iter()
                .map(|check| check.verdict.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio} | {targets} | {verdicts} |",
            row.figure,
            row.name,
            summary_cell(&row.dockyard, row.unit),
            row.baseline.as_ref().map_or_else(
                || "-".to_owned(),
                |baseline| summary_cell(baseline, row.unit)
            ),
        );
    }
    let _ = writeln!(out, "\n## Commands\n");
    for (figure, command) in &report.commands {
        let _ = writeln!(out, "- figure {figure}: `{command}`");
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}
