//! Running trivy through duct on a `docker save` archive, and classifying its failures into [`ScanError`]s.
//!
//! trivy runs with `--exit-code 0`, so a non-zero exit is always a tool failure; the gate is
//! [`crate::evaluate`]. trivy is isolated from its ambient configuration, so that only the
//! invocation decides what is scanned and reported:
//!
//! * `--config /dev/null` and `--ignorefile /dev/null`: a `trivy.yaml` or `.trivyignore` in the
//!   working folder would otherwise silently filter findings (suppressions belong in the policy's
//!   expiring ignore list);
//! * `--secret-config` names a file that does not exist, so a `trivy-secret.yaml` in the working
//!   folder cannot disable secret rules (trivy then uses its built-in rules);
//! * every `TRIVY_*` environment variable is removed (trivy reads each flag from one).
//!
//! When the vulnerability database cannot be downloaded, [`run_trivy`] fails with
//! [`ScanError::VulnerabilityDatabaseUnavailable`]; the caller may then scan again with
//! [`without_vulnerability_scanner`] and report the vulnerability scan as not run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::report::parse_report;
use crate::{ScanError, Scanner, TrivyReport};

/// How long past its own `--timeout` trivy may take (startup, writing the report) before it is killed.
pub const TIMEOUT_GRACE_SECONDS: u64 = 30;

/// The name of the secret configuration file passed to trivy inside the cache folder: it must not
/// exist, so that trivy uses its built-in secret rules only.
pub const ABSENT_SECRET_CONFIG_NAME: &str = "dockyard-builtin-secret-rules-only.yaml";

/// How many lines of trivy's stderr a [`ScanError::TrivyFailed`] keeps.
const STDERR_TAIL_LINES: usize = 20;

/// One trivy run over one image archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrivyInvocation {
    /// The trivy program (see [`find_trivy`]).
    pub program: PathBuf,
    /// The `docker save` archive of the image.
    pub image_archive: PathBuf,
    /// trivy's scanners ([`Scanner::License`] works too, but is not judged).
    pub scanners: Vec<Scanner>,
    /// trivy's cache folder: the vulnerability database lives in `db/` below it.
    pub cache_dir: PathBuf,
    /// trivy's own `--timeout`, in seconds; the process is killed [`TIMEOUT_GRACE_SECONDS`] later.
    pub timeout_seconds: u64,
    /// An OCI repository to download the vulnerability database from, instead of trivy's defaults
    /// (`mirror.gcr.io/aquasec/trivy-db:2`, then `ghcr.io/aquasecurity/trivy-db:2`).
    pub db_repository: Option<String>,
    /// Use the database already in `cache_dir` without trying to update it (`--skip-db-update`),
    /// for machines without access to any database repository. Fails when the cache is empty.
    pub skip_db_update: bool,
    /// Where trivy writes its JSON report (an older report there is removed first).
    pub output: PathBuf,
}

/// Where `trivy` is on `PATH`, if anywhere.
pub fn find_trivy() -> Option<PathBuf> {
    which::which_global("trivy").ok()
}

/// The same invocation without the `vuln` scanner (for a second run when the vulnerability
/// database is unavailable: secrets and misconfigurations need no database).
pub fn without_vulnerability_scanner(invocation: &TrivyInvocation) -> TrivyInvocation {
    TrivyInvocation {
        scanners: invocation
            .scanners
            .iter()
            .filter(|scanner| **scanner != Scanner::Vuln)
            .copied()
            .collect(),
        ..invocation.clone()
    }
}

fn has_scanner(invocation: &TrivyInvocation, wanted: Scanner) -> bool {
    invocation.scanners.contains(&wanted)
}

/// `scanners` as trivy names them, joined with `separator` (`","` on trivy's command line).
pub fn scanner_names(scanners: &[Scanner], separator: &str) -> String {
    let names: Vec<&str> = scanners.iter().map(|scanner| scanner.as_str()).collect();
    names.join(separator)
}

/// trivy's command line for an invocation (without the program name).
///
/// `image --input ARCHIVE --scanners S --format json --output OUT --list-all-pkgs=false --exit-code 0
/// --quiet --timeout Ns --cache-dir DIR --cache-backend memory --skip-version-check
/// --disable-telemetry --config /dev/null --ignorefile /dev/null`, then as needed:
///
/// * with `secret` or `misconfig`: `--image-config-scanners` with those of the two that were
///   asked for (the image configuration holds `ENV` values and the build history);
/// * with `secret`: `--secret-config CACHE/dockyard-builtin-secret-rules-only.yaml` (absent on purpose);
/// * with `misconfig`: `--skip-check-update` (the checks embedded in the pinned trivy, so results
///   do not change between runs of the same binary);
/// * with `vuln`: `--skip-db-update` when asked, and `--db-repository R` when set.
pub fn trivy_args(invocation: &TrivyInvocation) -> Vec<String> {
    let path = |path: &Path| path.display().to_string();
    let mut args: Vec<String> = [
        "image",
        "--input",
        &path(&invocation.image_archive),
        "--scanners",
        &scanner_names(&invocation.scanners, ","),
        "--format",
        "json",
        "--output",
        &path(&invocation.output),
        "--list-all-pkgs=false",
        "--exit-code",
        "0",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(isolated_args(
        invocation.timeout_seconds,
        &invocation.cache_dir,
    ));
    let image_config_scanners: Vec<Scanner> = [Scanner::Misconfig, Scanner::Secret]
        .into_iter()
        .filter(|scanner| has_scanner(invocation, *scanner))
        .collect();
    if !image_config_scanners.is_empty() {
        args.push("--image-config-scanners".to_owned());
        args.push(scanner_names(&image_config_scanners, ","));
    }
    if has_scanner(invocation, Scanner::Secret) {
        args.push("--secret-config".to_owned());
        args.push(path(&invocation.cache_dir.join(ABSENT_SECRET_CONFIG_NAME)));
    }
    if has_scanner(invocation, Scanner::Misconfig) {
        args.push("--skip-check-update".to_owned());
    }
    if has_scanner(invocation, Scanner::Vuln) {
        if invocation.skip_db_update {
            args.push("--skip-db-update".to_owned());
        }
        if let Some(repository) = &invocation.db_repository {
            args.push("--db-repository".to_owned());
            args.push(repository.clone());
        }
    }
    args
}

/// The arguments every trivy run takes: quiet, its own deadline, the cache folder with an in-memory scan cache, and
/// no version check, telemetry, configuration file or ignore file (see the module's documentation).
pub(crate) fn isolated_args(timeout_seconds: u64, cache_dir: &Path) -> Vec<String> {
    [
        "--quiet",
        "--timeout",
        &format!("{timeout_seconds}s"),
        "--cache-dir",
        &cache_dir.display().to_string(),
        "--cache-backend",
        "memory",
        "--skip-version-check",
        "--disable-telemetry",
        "--config",
        "/dev/null",
        "--ignorefile",
        "/dev/null",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The `TRIVY_*` variables of this process's environment, which are removed from trivy's.
fn inherited_trivy_variables() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            name.to_str()
                .is_some_and(|name| name.to_ascii_uppercase().starts_with("TRIVY_"))
        })
        .collect()
}

fn trivy_expression(program: &Path, args: Vec<String>) -> duct::Expression {
    let mut expression = duct::cmd(program, args)
        .stdin_null()
        .stderr_capture()
        .unchecked();
    for name in inherited_trivy_variables() {
        expression = expression.env_remove(name);
    }
    expression
}

fn start_failure(image: &str, error: &std::io::Error) -> ScanError {
    if error.kind() == std::io::ErrorKind::NotFound {
        ScanError::TrivyMissing
    } else {
        ScanError::TrivyFailed {
            image: image.to_owned(),
            exit_code: None,
            stderr_tail: format!("cannot start trivy: {error}"),
        }
    }
}

/// The version `trivy --version` prints (`Version: 0.76.0` gives `0.76.0`).
pub fn trivy_version(program: &Path) -> Result<String, ScanError> {
    let program_name = program.display().to_string();
    let output = trivy_expression(program, vec!["--version".to_owned()])
        .stdout_capture()
        .run()
        .map_err(|error| start_failure(&program_name, &error))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(ScanError::TrivyFailed {
            image: program_name,
            exit_code: output.status.code(),
            stderr_tail: stderr_tail(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    parse_version_output(&stdout).ok_or_else(|| ScanError::TrivyVersionUnreadable {
        program: program.to_owned(),
        output: stdout.chars().take(200).collect(),
    })
}

/// The version in `trivy --version`'s output: the first unindented `Version:` line (indented ones
/// describe the databases).
pub fn parse_version_output(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let version = line.strip_prefix("Version:")?.trim();
        (!version.is_empty()).then(|| version.to_owned())
    })
}

/// [`trivy_version`], failing with [`ScanError::TrivyVersionMismatch`] unless it is `expected`
/// (typically [`crate::PINNED_TRIVY_VERSION`]).
pub fn check_trivy_version(program: &Path, expected: &str) -> Result<String, ScanError> {
    let found = trivy_version(program)?;
    if found == expected {
        Ok(found)
    } else {
        Err(ScanError::TrivyVersionMismatch {
            expected: expected.to_owned(),
            found,
        })
    }
}

/// Runs trivy and parses the report it wrote.
///
/// Failures are classified: [`ScanError::TrivyMissing`], [`ScanError::ImageArchiveMissing`],
/// [`ScanError::Timeout`] (trivy's own deadline, or killed [`TIMEOUT_GRACE_SECONDS`] after it),
/// [`ScanError::VulnerabilityDatabaseUnavailable`] (see [`classify_trivy_failure`]),
/// [`ScanError::TrivyFailed`], and [`ScanError::InvalidReport`] naming the report's path.
pub fn run_trivy(invocation: &TrivyInvocation) -> Result<TrivyReport, ScanError> {
    let json = run_for_output(
        &invocation.program,
        trivy_args(invocation),
        &invocation.image_archive,
        &invocation.image_archive.display().to_string(),
        &invocation.output,
        invocation.timeout_seconds,
    )?;
    parse_report(&json).map_err(|error| match error {
        ScanError::InvalidReport {
            line,
            column,
            reason,
            ..
        } => ScanError::InvalidReport {
            path: Some(invocation.output.clone()),
            line,
            column,
            reason,
        },
        other => other,
    })
}

/// Runs trivy with `args` on `archive` (which must exist) and returns what it wrote to `output` (an older file there
/// is removed first); `image` names the image in errors.
pub(crate) fn run_for_output(
    program: &Path,
    args: Vec<String>,
    archive: &Path,
    image: &str,
    output: &Path,
    timeout_seconds: u64,
) -> Result<String, ScanError> {
    if !archive.is_file() {
        return Err(ScanError::ImageArchiveMissing {
            path: archive.to_owned(),
        });
    }
    prepare_output(output)?;
    run_to_completion(program, args, image, timeout_seconds)?;
    std::fs::read_to_string(output).map_err(|source| ScanError::ReadReport {
        path: output.to_owned(),
        source,
    })
}

/// Runs trivy with `args` until it exits, killed [`TIMEOUT_GRACE_SECONDS`] past its own `timeout_seconds`; a
/// non-zero exit is classified by [`classify_trivy_failure`].
fn run_to_completion(
    program: &Path,
    args: Vec<String>,
    image: &str,
    timeout_seconds: u64,
) -> Result<(), ScanError> {
    let handle = trivy_expression(program, args)
        .stdout_null()
        .start()
        .map_err(|error| start_failure(image, &error))?;
    let deadline =
        Instant::now() + Duration::from_secs(timeout_seconds.saturating_add(TIMEOUT_GRACE_SECONDS));
    let output = match handle.wait_deadline(deadline) {
        Ok(Some(output)) => output,
        Ok(None) => {
            // Past the deadline: kill it and reap it, so no trivy outlives the scan.
            let _ = handle.kill();
            let _ = handle.wait();
            return Err(ScanError::Timeout {
                image: image.to_owned(),
                timeout_seconds,
            });
        }
        Err(error) => {
            return Err(ScanError::TrivyFailed {
                image: image.to_owned(),
                exit_code: None,
                stderr_tail: format!("cannot wait for trivy: {error}"),
            })
        }
    };
    if !output.status.success() {
        return Err(classify_trivy_failure(
            image,
            timeout_seconds,
            output.status.code(),
            &String::from_utf8_lossy(&output.stderr),
        ));
    }
    Ok(())
}

/// Makes the report's folder and removes an older report, so a failed run never leaves last
/// run's report to be read as this one's.
fn prepare_output(output: &Path) -> Result<(), ScanError> {
    if let Some(folder) = output
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder).map_err(|source| ScanError::PrepareOutput {
            path: folder.to_owned(),
            source,
        })?;
    }
    match std::fs::remove_file(output) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ScanError::PrepareOutput {
            path: output.to_owned(),
            source,
        }),
    }
}

/// What trivy's stderr says when the vulnerability database cannot be had: it cannot be
/// downloaded (`failed to download vulnerability DB`, wrapped as `init error: DB error: …`), an
/// empty cache with `--skip-db-update` (`--skip-db-update cannot be specified on the first run`),
/// or a cached database of the wrong schema.
const DATABASE_UNAVAILABLE_NEEDLES: &[&str] = &[
    "failed to download vulnerability DB",
    "init error: DB error",
    "cannot be specified on the first run",
    "cannot be specified with the old DB schema",
    "the version of DB schema doesn't match",
    "Java DB error",
];

/// What trivy's stderr says when its own `--timeout` expired.
const TIMEOUT_NEEDLE: &str = "context deadline exceeded";

/// Turns a failed trivy run (non-zero exit) into the matching [`ScanError`], from its stderr:
/// [`ScanError::VulnerabilityDatabaseUnavailable`] first (a database download that timed out is
/// still a database problem), then [`ScanError::Timeout`], else [`ScanError::TrivyFailed`] with
/// trivy's fatal message on one line (or, without one, the last lines of stderr).
pub fn classify_trivy_failure(
    image: &str,
    timeout_seconds: u64,
    exit_code: Option<i32>,
    stderr: &str,
) -> ScanError {
    if DATABASE_UNAVAILABLE_NEEDLES
        .iter()
        .any(|needle| stderr.contains(needle))
    {
        return ScanError::VulnerabilityDatabaseUnavailable {
            image: image.to_owned(),
            detail: fatal_message(stderr).unwrap_or_else(|| stderr_tail(stderr)),
        };
    }
    if stderr.contains(TIMEOUT_NEEDLE) {
        return ScanError::Timeout {
            image: image.to_owned(),
            timeout_seconds,
        };
    }
    ScanError::TrivyFailed {
        image: image.to_owned(),
        exit_code,
        stderr_tail: fatal_message(stderr).unwrap_or_else(|| stderr_tail(stderr)),
    }
}

/// trivy's fatal error on one line: the text after `FATAL\tFatal error\t` and its continuation
/// lines (trivy lists nested errors as indented `* …` lines), whitespace collapsed.
pub fn fatal_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    let first = lines.find_map(|line| {
        let (_, rest) = line.split_once("\tFATAL\t")?;
        Some(
            rest.strip_prefix("Fatal error\t")
                .unwrap_or(rest)
                .to_owned(),
        )
    })?;
    let continuation =
        lines.take_while(|line| !line.contains("\tFATAL\t") && !starts_with_timestamp(line));
    let words: Vec<&str> = std::iter::once(first.as_str())
        .chain(continuation)
        .flat_map(str::split_whitespace)
        .collect();
    Some(words.join(" "))
}

/// A log line of trivy's starts with an RFC 3339 timestamp (`2026-11-22T11:54:14Z\t…`).
fn starts_with_timestamp(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 11
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T'
}

/// The last [`STDERR_TAIL_LINES`] non-empty lines of stderr.
fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    let tail = lines[start..].join("\n");
    if tail.is_empty() {
        "(nothing on stderr)".to_owned()
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PINNED_TRIVY_VERSION;

    #[test]
    fn the_pinned_version_parses_like_trivy_prints_it() {
        let output = "Version: 0.76.0\nVulnerability DB:\n  Version: 2\n  UpdatedAt: 2026-11-21 00:00:00 +0000 UTC\n";
        assert_eq!(
            parse_version_output(output).as_deref(),
            Some(PINNED_TRIVY_VERSION)
        );
        assert_eq!(parse_version_output("trivy dev\n"), None);
    }
}
