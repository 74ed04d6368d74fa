//! Image scanning with trivy: running it on `docker save` archives, parsing its JSON report, the policy gate with an expiring ignore list, the renderings, and SBOMs.
//!
//! The pipeline exports each image to a `docker save` tarball through the engine crate and hands
//! the path here; this crate never talks to the Docker engine.
//!
//! * [`runner`] runs trivy through duct ([`run_trivy`], [`trivy_args`], [`trivy_version`]) and
//!   classifies its failures ([`ScanError::VulnerabilityDatabaseUnavailable`], timeouts, ...);
//! * [`report`] is a lenient typed model of trivy's `--format json` output ([`parse_report`]);
//! * [`policy`] is the gate: [`evaluate`] judges the reports against a [`Policy`] and
//!   [`IgnoreEntry`]s, giving every [`Finding`] a [`Verdict`];
//! * [`render`] turns a [`ScanSummary`] into a text table, JSON, SARIF and Markdown;
//! * [`database`] knows where trivy's vulnerability database lives in a cache folder, the schema
//!   the pinned trivy reads, and how to provide one offline;
//! * [`sbom`] writes an image's CycloneDX SBOM with trivy ([`sbom::write_sbom`]) and summarises one.
//!
//! trivy's exit code is only ever a tool failure (it runs with `--exit-code 0`); whether the scan
//! passes is [`Evaluation::passed`]. Nothing is printed: functions return data and [`ScanError`]s
//! (with [`ScanError::hint`] and [`ScanError::is_infrastructure`]).
#![warn(missing_docs)]

pub mod database;
mod date;
mod error;
pub mod policy;
pub mod render;
pub mod report;
pub mod runner;
pub mod sbom;

pub use dockyard_config::Scanner;
pub use error::{ScanError, PINNED_TRIVY_PIP_PACKAGE, PINNED_TRIVY_VERSION};
pub use policy::{
    evaluate, today_utc, Date, Evaluation, Finding, FindingKind, IgnoreEntry, Policy, Verdict,
};
pub use render::{
    render_table, to_json, to_markdown, to_sarif, ImageScan, ScanSummary, VulnScanStatus,
};
pub use report::{
    parse_report, severity_from_report_text, Misconfiguration, SecretFinding, Severity,
    TrivyReport, TrivyResult, Vulnerability,
};
pub use runner::{
    check_trivy_version, classify_trivy_failure, find_trivy, run_trivy, scanner_names, trivy_args,
    trivy_version, without_vulnerability_scanner, TrivyInvocation,
};
