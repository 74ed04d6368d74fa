//! Renderings of a scan for people and tools: a plain-text table, JSON, SARIF 2.1.0 for GitHub code scanning, and Markdown for `$GITHUB_STEP_SUMMARY`.
//!
//! All four take a [`ScanSummary`]: the [`Evaluation`] plus what was scanned, and what was not
//! (a vulnerability scan that could not run is shown loudly everywhere, never silently dropped).
//! Everything here is a pure function of the summary, so the outputs are snapshot-tested.

mod json;
mod markdown;
mod sarif;
mod table;

use std::collections::BTreeMap;

pub use json::to_json;
pub use markdown::to_markdown;
pub use sarif::to_sarif;
pub use table::render_table;

use crate::{Evaluation, Finding, FindingKind, Scanner, Verdict};

/// One scan of one image, and the evaluation of all of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanSummary {
    /// The scanned images, in the order to show them.
    pub images: Vec<ImageScan>,
    /// The policy's evaluation of their reports.
    pub evaluation: Evaluation,
}

/// What was scanned for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageScan {
    /// The image's name in `deploy.toml` (`app`, `nginx`); findings carry the same name.
    pub image: String,
    /// The image reference that was exported and scanned, for example `notes/app:1.4.0`.
    pub reference: String,
    /// The trivy scanners that ran.
    pub scanners: Vec<Scanner>,
    /// Whether the vulnerability scanner ran.
    pub vulnerability_scan: VulnScanStatus,
}

impl ImageScan {
    /// The scanners that ran, as trivy names them, joined with `separator`.
    pub fn scanner_names(&self, separator: &str) -> String {
        let names: Vec<&str> = self
            .scanners
            .iter()
            .map(|scanner| scanner.as_str())
            .collect();
        names.join(separator)
    }
}

/// Whether the vulnerability scanner ran for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VulnScanStatus {
    /// It ran; the report's vulnerabilities are complete.
    Ran,
    /// It did not run (typically: the vulnerability database was unavailable, and the image was
    /// scanned for secrets and misconfigurations only).
    NotRun {
        /// Why, as a lowercase fragment.
        reason: String,
    },
}

/// One image's part of a summary: its scan (if listed) and its findings.
struct ImageSection<'a> {
    image: &'a str,
    scan: Option<&'a ImageScan>,
    findings: Vec<&'a Finding>,
}

/// The listed images in order, then any image that only appears in the findings (sorted).
fn image_sections(summary: &ScanSummary) -> Vec<ImageSection<'_>> {
    let mut sections: Vec<ImageSection<'_>> = summary
        .images
        .iter()
        .map(|scan| ImageSection {
            image: &scan.image,
            scan: Some(scan),
            findings: Vec::new(),
        })
        .collect();
    for finding in &summary.evaluation.findings {
        match sections
            .iter_mut()
            .find(|section| section.image == finding.image)
        {
            Some(section) => section.findings.push(finding),
            None => sections.push(ImageSection {
                image: &finding.image,
                scan: None,
                findings: vec![finding],
            }),
        }
    }
    sections
}

/// How many findings got each verdict.
#[derive(Debug, Default)]
struct VerdictCounts<'a> {
    fails: usize,
    below_threshold: usize,
    unfixed: usize,
    suppressed: usize,
    suppressed_by: BTreeMap<&'a str, usize>,
}

fn verdict_counts<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> VerdictCounts<'a> {
    let mut counts = VerdictCounts::default();
    for finding in findings {
        match &finding.verdict {
            Verdict::Fails => counts.fails += 1,
            Verdict::BelowThreshold => counts.below_threshold += 1,
            Verdict::Unfixed => counts.unfixed += 1,
            Verdict::Suppressed { entry_id, .. } => {
                counts.suppressed += 1;
                *counts.suppressed_by.entry(entry_id).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn plural(count: usize, singular: &str, plural: &str) -> String {
    if count == 1 {
        format!("{count} {singular}")
    } else {
        format!("{count} {plural}")
    }
}

/// "2 findings over policy, 3 suppressed (by CVE-2019-1549: 2, DS-0026: 1), 4 below threshold, 1 unfixed"
/// (the unfixed part only when there are some).
fn counts_sentence(counts: &VerdictCounts<'_>) -> String {
    let mut sentence = format!(
        "{} over policy, {} suppressed",
        plural(counts.fails, "finding", "findings"),
        counts.suppressed
    );
    if !counts.suppressed_by.is_empty() {
        let by: Vec<String> = counts
            .suppressed_by
            .iter()
            .map(|(entry_id, count)| format!("{entry_id}: {count}"))
            .collect();
        sentence.push_str(&format!(" (by {})", by.join(", ")));
    }
    sentence.push_str(&format!(", {} below threshold", counts.below_threshold));
    if counts.unfixed > 0 {
        sentence.push_str(&format!(", {} unfixed", counts.unfixed));
    }
    sentence
}

/// The verdict as a table cell: `FAIL`, `below threshold`, `unfixed`, `suppressed by ID`.
fn verdict_label(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Fails => "FAIL".to_owned(),
        Verdict::BelowThreshold => "below threshold".to_owned(),
        Verdict::Unfixed => "unfixed".to_owned(),
        Verdict::Suppressed { entry_id, .. } => format!("suppressed by {entry_id}"),
    }
}

/// The kind as a short table cell.
fn kind_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Vulnerability => "vuln",
        FindingKind::Secret => "secret",
        FindingKind::Misconfiguration => "misconfig",
    }
}

/// What the finding is in: the package for vulnerabilities, the file and line for secrets, the target otherwise.
fn package_or_target(finding: &Finding) -> &str {
    match finding.kind {
        FindingKind::Vulnerability => finding.package.as_deref().unwrap_or(&finding.target),
        FindingKind::Secret => finding.location.as_deref().unwrap_or(&finding.target),
        FindingKind::Misconfiguration => &finding.target,
    }
}

/// "vulnerability scan not run for IMAGE: REASON", for each image whose vulnerability scan did not run.
fn not_run_warnings(summary: &ScanSummary) -> Vec<String> {
    summary
        .images
        .iter()
        .filter_map(|scan| match &scan.vulnerability_scan {
            VulnScanStatus::Ran => None,
            VulnScanStatus::NotRun { reason } => Some(format!(
                "vulnerability scan not run for {}: {reason}",
                scan.image
            )),
        })
        .collect()
}

/// The gate's verdict in one line: "scan passed: …" or "scan failed: …".
fn verdict_sentence(summary: &ScanSummary) -> String {
    let evaluation = &summary.evaluation;
    let counts = verdict_counts(&evaluation.findings);
    let n_expired = evaluation.expired_entries.len();
    let not_run: Vec<&str> = summary
        .images
        .iter()
        .filter(|scan| matches!(scan.vulnerability_scan, VulnScanStatus::NotRun { .. }))
        .map(|scan| scan.image.as_str())
        .collect();
    let mut sentence = if evaluation.passed() {
        format!(
            "scan passed: no findings over policy, {} suppressed",
            counts.suppressed
        )
    } else {
        let mut reasons = Vec::new();
        if counts.fails > 0 {
            reasons.push(format!(
                "{} over policy",
                plural(counts.fails, "finding", "findings")
            ));
        }
        if n_expired > 0 {
            reasons.push(plural(
                n_expired,
                "expired ignore entry",
                "expired ignore entries",
            ));
        }
        format!("scan failed: {}", reasons.join(", "))
    };
    if !not_run.is_empty() {
        sentence.push_str(&format!(
            " (without a vulnerability scan of {})",
            not_run.join(", ")
        ));
    }
    sentence
}

/// An ignore entry's scopes, for listings: "image app, package pkg:deb/debian/bash, path app/*" (or "everywhere").
fn entry_scope(entry: &crate::IgnoreEntry) -> String {
    let scopes: Vec<String> = [
        entry.image.as_ref().map(|image| format!("image {image}")),
        entry
            .package
            .as_ref()
            .map(|package| format!("package {package}")),
        entry.path.as_ref().map(|path| format!("path {path}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if scopes.is_empty() {
        "everywhere".to_owned()
    } else {
        scopes.join(", ")
    }
}
