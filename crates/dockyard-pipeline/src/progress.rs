//! Progress output: plain lines on stderr that read well in CI logs (no colours, no cursor tricks).
#![allow(
    clippy::print_stderr,
    reason = "this module is the pipeline's one place that prints progress"
)]

use std::time::Instant;

/// Announces a step.
pub fn step(name: &str, message: &str) {
    eprintln!("==> {name}: {message}");
}

/// A detail line under the current step.
pub fn detail(message: &str) {
    eprintln!("    {message}");
}

/// A line of output from a tool or container, prefixed with where it comes from.
pub fn output(source: &str, line: &str) {
    eprintln!("    {source} | {line}");
}

/// A warning that must not scroll by unnoticed.
pub fn warning(message: &str) {
    eprintln!("warning: {message}");
}

/// Announces the end of a step with its duration.
pub fn done(name: &str, started: Instant, message: &str) {
    eprintln!(
        "==> {name}: {message} ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
}

/// Appends Markdown to `$GITHUB_STEP_SUMMARY` when running under GitHub Actions; a no-op elsewhere.
/// A summary that cannot be written is a warning, never a failure of the run.
pub fn append_step_summary(markdown: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(markdown.as_bytes()));
    if let Err(error) = written {
        warning(&format!(
            "could not append to GITHUB_STEP_SUMMARY ({}): {error}",
            std::path::Path::new(&path).display()
        ));
    }
}

/// The printer behind a release's progress (`dockyard-release` prints nothing itself).
pub struct Printer;

impl dockyard_release::Progress for Printer {
    fn step(&self, name: &str, message: &str) {
        step(name, message);
    }
    fn detail(&self, message: &str) {
        detail(message);
    }
    fn output(&self, source: &str, line: &str) {
        output(source, line);
    }
    fn warning(&self, message: &str) {
        warning(message);
    }
    fn done(&self, name: &str, started: Instant, message: &str) {
        done(name, started, message);
    }
    fn step_summary(&self, markdown: &str) {
        append_step_summary(markdown);
    }
}
