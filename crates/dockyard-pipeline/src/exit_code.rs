//! Documented process exit codes, one per kind of failure, so CI can tell "tests failed" from "docker is down".

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
/// Interrupted by Ctrl-C (after cleaning up).
pub const INTERRUPTED: i32 = 130;

/// Every documented code with its meaning, for `--help` texts and the docs test.
pub const ALL: &[(i32, &str)] = &[
    (OK, "success"),
    (UNEXPECTED, "unexpected error"),
    (USAGE, "command-line usage error"),
    (INVALID_CONFIG, "deploy.toml is invalid"),
    (ENGINE_UNREACHABLE, "the docker engine is unreachable"),
    (MISSING_PREREQUISITE, "a prerequisite is missing"),
    (BUILD_FAILED, "a build step failed"),
    (SCAN_POLICY_VIOLATED, "scan findings over the policy"),
    (SCAN_INFRASTRUCTURE, "the scanner failed"),
    (SMOKE_FAILED, "a smoke check failed"),
    (PUSH_FAILED, "a push failed"),
    (
        RELEASE_REFUSED,
        "the release refused to start (dirty tree, invalid version)",
    ),
    (
        BENCH_REGRESSED,
        "a benchmark regressed past its target by more than the measured noise (bench --quick)",
    ),
    (INTERRUPTED, "interrupted (Ctrl-C), after cleanup"),
];
