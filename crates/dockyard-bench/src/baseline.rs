//! The baselines: `scripts/baseline.sh`, the hand-scripted way (tar | gzip, the docker CLI, curl) that issue #6
//! compares Dockyard against. Dockyard never runs the docker CLI itself; only this baseline does, on purpose.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::BenchError;

/// The baseline script shipped with this crate.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/baseline.sh")
}

/// Runs `baseline.sh ARGS...`; returns its wall time in seconds and its stdout.
pub fn run(args: &[&str]) -> Result<(f64, String), BenchError> {
    let script = script();
    let mut argv = vec![script.to_string_lossy().into_owned()];
    argv.extend(args.iter().map(|arg| (*arg).to_owned()));
    let started = Instant::now();
    let output = duct::cmd("bash", &argv)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(crate::error::io("running", &script))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        return Err(BenchError::Command {
            what: format!("baseline.sh {}", args.join(" ")),
            message: format!(
                "{}\n{}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        });
    }
    Ok((
        seconds,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// The command line as BENCHMARKS.md shows it.
pub fn describe(args: &[&str]) -> String {
    format!(
        "bash crates/dockyard-bench/scripts/baseline.sh {}",
        args.join(" ")
    )
}
