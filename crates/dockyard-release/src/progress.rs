//! [`Progress`]: how a release tells its caller what it is doing; the caller decides where the lines go.

use std::time::Instant;

/// Where a release reports what it does: the pipeline prints these lines, tests may collect them.
pub trait Progress: Send + Sync {
    /// Announces a step (`release`, `check`, `push`).
    fn step(&self, name: &str, message: &str);
    /// A detail line under the current step.
    fn detail(&self, message: &str);
    /// A line of output from the engine, prefixed with where it comes from.
    fn output(&self, source: &str, line: &str);
    /// A warning that must not scroll by unnoticed.
    fn warning(&self, message: &str);
    /// The end of a step with its duration.
    fn done(&self, name: &str, started: Instant, message: &str);
    /// The release as Markdown, for a CI job summary (`$GITHUB_STEP_SUMMARY`).
    fn step_summary(&self, markdown: &str);
}
