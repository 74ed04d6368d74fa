//! Documented process exit codes, one per kind of failure, so CI can tell "tests failed" from "docker is down".
//!
//! [`ALL`] is the one list: `cargo xtask --help` and README's table are generated from it (a test keeps README equal).

/// Everything succeeded.
pub const OK: i32 = 0;
/// An unexpected error (a bug, or a failure with no better category).
pub const UNEXPECTED: i32 = 1;
/// Command-line usage error (clap's own code).
pub const USAGE: i32 = 2;
/// `deploy.toml` is invalid: syntax, unknown keys, wrong types, missing files.
pub const INVALID_CONFIG: i32 = 3;
/// The Docker engine could not be reached, or the connection dropped.
pub const ENGINE_UNREACHABLE: i32 = 4;
/// A prerequisite is missing (mmdebstrap, a base image that cannot be made, disk space).
pub const MISSING_PREREQUISITE: i32 = 5;
/// A build failed: a builder step (wheels, tests, collectstatic), an image build, or the export.
pub const BUILD_FAILED: i32 = 6;
/// The scan found findings over the policy, or an ignore entry expired.
pub const SCAN_POLICY_VIOLATED: i32 = 7;
/// The scanner could not run (missing, wrong version, timeout, no vulnerability database).
pub const SCAN_INFRASTRUCTURE: i32 = 8;
/// A smoke check failed.
pub const SMOKE_FAILED: i32 = 9;
/// Pushing to a registry failed, for good (after retries of transient errors).
pub const PUSH_FAILED: i32 = 10;
/// The release refused to start: a dirty git tree, an invalid version, no [release] table.
pub const RELEASE_REFUSED: i32 = 11;
/// `cargo xtask bench --quick`: a figure regressed past its target by more than the noise measured in the run.
pub const BENCH_REGRESSED: i32 = 12;
/// Interrupted by Ctrl-C or SIGTERM (after cleaning up).
pub const INTERRUPTED: i32 = 130;

/// One documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCodeDoc {
    /// The process exit code.
    pub code: i32,
    /// What it means, in a few words (the `--help` text).
    pub meaning: &'static str,
    /// The longer explanation in README's table; empty when the meaning says it all.
    pub detail: &'static str,
}

const fn doc(code: i32, meaning: &'static str, detail: &'static str) -> ExitCodeDoc {
    ExitCodeDoc {
        code,
        meaning,
        detail,
    }
}

/// Every documented code, in order.
pub const ALL: &[ExitCodeDoc] = &[
    doc(OK, "success", ""),
    doc(UNEXPECTED, "unexpected error", ""),
    doc(
        USAGE,
        "command-line usage error",
        "or `dev` while a dev session of the project runs",
    ),
    doc(
        INVALID_CONFIG,
        "deploy.toml is invalid, or init cannot write one",
        "the message names `deploy.toml:LINE:COL` and the key; `init`: no Django project, an existing deploy.toml",
    ),
    doc(ENGINE_UNREACHABLE, "the docker engine is unreachable", ""),
    doc(
        MISSING_PREREQUISITE,
        "a prerequisite is missing",
        "mmdebstrap, qemu's emulation of a base's architecture, a base image, disk space, python3 or PyPI for the pinned tools",
    ),
    doc(
        BUILD_FAILED,
        "a build step failed",
        "builder step such as the app's tests, a service the tests need, a download not matching the lock's hashes (naming the package), image build, export, the source changed while the run used it",
    ),
    doc(
        SCAN_POLICY_VIOLATED,
        "scan findings over the policy",
        "or an expired `[[scan.ignore]]` entry",
    ),
    doc(
        SCAN_INFRASTRUCTURE,
        "the scanner could not run",
        "no `[scan]` table, trivy missing or of another version, a timeout, or no vulnerability database",
    ),
    doc(
        SMOKE_FAILED,
        "a smoke check failed",
        "or a `[services]` service did not start, never became ready, or runs another version or password",
    ),
    doc(
        PUSH_FAILED,
        "a push failed for good",
        "a permanent registry error, or transient errors past the last attempt; no moving tag moved",
    ),
    doc(
        RELEASE_REFUSED,
        "the release refused to start",
        "a dirty git tree (without `--allow-dirty`), an invalid version, no `[release]` table, a provenance signing key that is missing or not a key",
    ),
    doc(
        BENCH_REGRESSED,
        "a benchmark regressed",
        "`bench --quick`: a row `BENCHMARKS.md` marks met went past its target by more than the margin CI allows",
    ),
    doc(INTERRUPTED, "interrupted with Ctrl-C or SIGTERM", "after cleanup"),
];

/// The `Exit codes:` block of `cargo xtask --help`.
pub fn help_text() -> String {
    let mut text = String::from("Exit codes:");
    for doc in ALL {
        text.push_str(&format!("\n  {:<4}{}", doc.code, doc.meaning));
    }
    text
}

/// README's exit code table, as Markdown.
pub fn markdown_table() -> String {
    let mut text = String::from("| code | meaning |\n| --- | --- |\n");
    for doc in ALL {
        let meaning = if doc.detail.is_empty() {
            doc.meaning.to_owned()
        } else {
            format!("{} ({})", doc.meaning, doc.detail)
        };
        text.push_str(&format!("| {} | {meaning} |\n", doc.code));
    }
    text
}
