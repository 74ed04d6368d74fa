//! `cargo xtask bench` and the hidden `bench-probe`: thin glue over `dockyard_bench`.

use std::path::Path;

use anyhow::Context;
use dockyard_bench::figures::{self, Options};
use dockyard_bench::render::{self, Report};
use dockyard_bench::verdict;
use dockyard_pipeline::exit_code;

use crate::flags;

impl flags::Bench {
    pub(crate) fn run(self, workspace: &Path) -> anyhow::Result<i32> {
        let options = Options {
            quick: self.quick,
            runs: self.runs.unwrap_or(if self.quick { 2 } else { 3 }).max(1),
            only: self.only,
            xtask: std::env::current_exe().context("finding the xtask binary")?,
            workspace: workspace.to_path_buf(),
            work: workspace.join("target/bench"),
        };
        let date = dockyard_bench::machine::utc_date();
        let machine = dockyard_bench::machine::detect();
        let outcome = figures::run(&options, &mut |line| eprintln!("==> bench: {line}")).map_err(
            |error| {
                let hint = error.hint();
                anyhow::anyhow!(error).context(hint.map_or_else(
                    || "benchmark".to_owned(),
                    |hint| format!("benchmark (hint: {hint})"),
                ))
            },
        )?;
        let mut notes = outcome.notes;
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        notes.push(format!(
            "load average at the end of the run (1, 5, 15 min): {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let report = Report {
            mode: if self.quick { "quick" } else { "full" }.to_owned(),
            runs: options.runs,
            date,
            machine,
            rows: outcome.rows,
            commands: outcome.commands,
            notes,
        };
        let markdown = render::render_markdown(&report);
        // The full run writes BENCHMARKS.md; quick runs (CI) and single figures write under target/bench/.
        let path = if self.quick || self.only.is_some() {
            options.work.join("BENCHMARKS.md")
        } else {
            workspace.join("BENCHMARKS.md")
        };
        std::fs::write(&path, &markdown).with_context(|| format!("writing {}", path.display()))?;
        print!("{markdown}");
        println!("written to {}", path.display());
        if !self.quick {
            return Ok(exit_code::OK);
        }
        // Quick mode keeps met targets met: it gates the rows the committed BENCHMARKS.md marks PASS.
        let committed =
            std::fs::read_to_string(workspace.join("BENCHMARKS.md")).unwrap_or_default();
        let met = verdict::met_rows(&committed);
        for note in &report.notes {
            eprintln!("warning: {note}");
        }
        let ci_gated = verdict::ci_regressions(&report.rows);
        let (gated, reported): (Vec<_>, Vec<_>) = verdict::regressions(&report.rows)
            .into_iter()
            .partition(|check| {
                met.contains(&(check.figure, verdict::row_key(&check.name).to_owned()))
                    && ci_gated.contains(check)
            });
        for check in &reported {
            eprintln!(
                "warning: {} (not gated: figure {}'s row is not marked met in BENCHMARKS.md, or is wall-clock bound or within the CI margin)",
                verdict::regression_message(check),
                check.figure
            );
        }
        if !gated.is_empty() {
            for check in &gated {
                eprintln!("error: {}", verdict::regression_message(check));
            }
            eprintln!("hint: rerun `cargo xtask bench --quick` on a quiet machine; if it fails again, the change made Dockyard slower than its target");
            return Ok(exit_code::BENCH_REGRESSED);
        }
        Ok(exit_code::OK)
    }
}

impl flags::BenchProbe {
    pub(crate) fn run(self) -> anyhow::Result<i32> {
        let reports = match self.phase.as_str() {
            "pack" => vec![dockyard_bench::probe::pack(&self.input, &self.output)?],
            "upload-download" => crate::runtime()?.block_on(
                dockyard_bench::probe::upload_and_download(&self.input, &self.output),
            )?,
            other => anyhow::bail!("unknown bench-probe phase `{other}` (pack, upload-download)"),
        };
        for report in reports {
            println!("{}", serde_json::to_string(&report)?);
        }
        Ok(exit_code::OK)
    }
}
