//! The JSON rendering of a scan: a stable shape of its own (not trivy's), with per-image counts by severity and by verdict.
//!
//! The shape is written out as private serde structs, so renaming a field of the public types
//! cannot change the output by accident.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{image_sections, verdict_counts, ScanSummary, VulnScanStatus};
use crate::{Finding, IgnoreEntry, Severity, Verdict};

#[derive(Serialize)]
struct JsonScan<'a> {
    passed: bool,
    n_failing: usize,
    n_suppressed: usize,
    images: Vec<JsonImage<'a>>,
    suppressed_counts: &'a BTreeMap<String, usize>,
    expired_entries: &'a [IgnoreEntry],
    unused_entries: &'a [IgnoreEntry],
}

#[derive(Serialize)]
struct JsonImage<'a> {
    image: &'a str,
    reference: Option<&'a str>,
    scanners: Vec<&'a str>,
    vulnerability_scan: JsonVulnerabilityScan<'a>,
    counts: JsonCounts,
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonVulnerabilityScan<'a> {
    ran: bool,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonCounts {
    by_severity: JsonSeverityCounts,
    by_verdict: JsonVerdictCounts,
}

#[derive(Serialize, Default)]
struct JsonSeverityCounts {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    unknown: usize,
}

#[derive(Serialize)]
struct JsonVerdictCounts {
    fails: usize,
    below_threshold: usize,
    unfixed: usize,
    suppressed: usize,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    kind: &'static str,
    id: &'a str,
    severity: Severity,
    verdict: &'static str,
    suppressed_by: Option<&'a str>,
    suppression_reason: Option<&'a str>,
    target: &'a str,
    package: Option<&'a str>,
    purl: Option<&'a str>,
    installed_version: Option<&'a str>,
    fixed_version: Option<&'a str>,
    location: Option<&'a str>,
    title: &'a str,
    primary_url: Option<&'a str>,
}

fn json_finding(finding: &Finding) -> JsonFinding<'_> {
    let (verdict, suppressed_by, suppression_reason) = match &finding.verdict {
        Verdict::Fails => ("fails", None, None),
        Verdict::BelowThreshold => ("below_threshold", None, None),
        Verdict::Unfixed => ("unfixed", None, None),
        Verdict::Suppressed { entry_id, reason } => {
            ("suppressed", Some(entry_id.as_str()), Some(reason.as_str()))
        }
    };
    JsonFinding {
        kind: finding.kind.as_str(),
        id: &finding.id,
        severity: finding.severity,
        verdict,
        suppressed_by,
        suppression_reason,
        target: &finding.target,
        package: finding.package.as_deref(),
        purl: finding.purl.as_deref(),
        installed_version: finding.installed_version.as_deref(),
        fixed_version: finding.fixed_version.as_deref(),
        location: finding.location.as_deref(),
        title: &finding.title,
        primary_url: finding.primary_url.as_deref(),
    }
}

/// The scan as pretty-printed JSON:
///
/// ```text
/// { passed, n_failing, n_suppressed,
///   images: [{ image, reference, scanners, vulnerability_scan: { ran, reason },
///              counts: { by_severity: { critical, high, medium, low, unknown },
///                        by_verdict: { fails, below_threshold, unfixed, suppressed } },
///              findings: [{ kind, id, severity, verdict, suppressed_by, suppression_reason, target,
///                           package, purl, installed_version, fixed_version, location, title, primary_url }] }],
///   suppressed_counts: { ENTRY: n }, expired_entries: [...], unused_entries: [...] }
/// ```
///
/// Every key is always present (`null` when empty), so consumers can index without checks.
pub fn to_json(summary: &ScanSummary) -> String {
    let evaluation = &summary.evaluation;
    let images = image_sections(summary)
        .into_iter()
        .map(|section| {
            let mut by_severity = JsonSeverityCounts::default();
            for finding in &section.findings {
                let count = match finding.severity {
                    Severity::Critical => &mut by_severity.critical,
                    Severity::High => &mut by_severity.high,
                    Severity::Medium => &mut by_severity.medium,
                    Severity::Low => &mut by_severity.low,
                    Severity::Unknown => &mut by_severity.unknown,
                };
                *count += 1;
            }
            let verdicts = verdict_counts(section.findings.iter().copied());
            let (ran, reason) = match section.scan.map(|scan| &scan.vulnerability_scan) {
                Some(VulnScanStatus::NotRun { reason }) => (false, Some(reason.as_str())),
                Some(VulnScanStatus::Ran) | None => (true, None),
            };
            JsonImage {
                image: section.image,
                reference: section.scan.map(|scan| scan.reference.as_str()),
                scanners: section
                    .scan
                    .map(|scan| {
                        scan.scanners
                            .iter()
                            .map(|scanner| scanner.as_str())
                            .collect()
                    })
                    .unwrap_or_default(),
                vulnerability_scan: JsonVulnerabilityScan { ran, reason },
                counts: JsonCounts {
                    by_severity,
                    by_verdict: JsonVerdictCounts {
                        fails: verdicts.fails,
                        below_threshold: verdicts.below_threshold,
                        unfixed: verdicts.unfixed,
                        suppressed: verdicts.suppressed,
                    },
                },
                findings: section
                    .findings
                    .iter()
                    .map(|finding| json_finding(finding))
                    .collect(),
            }
        })
        .collect();
    let scan = JsonScan {
        passed: evaluation.passed(),
        n_failing: evaluation.n_failing(),
        n_suppressed: evaluation.n_suppressed(),
        images,
        suppressed_counts: &evaluation.suppressed_counts,
        expired_entries: &evaluation.expired_entries,
        unused_entries: &evaluation.unused_entries,
    };
    let mut text = serde_json::to_string_pretty(&scan)
        .unwrap_or_else(|error| format!("{{\"error\": {:?}}}", error.to_string()));
    text.push('\n');
    text
}
