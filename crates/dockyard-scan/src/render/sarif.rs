//! The SARIF 2.1.0 rendering of a scan, for GitHub code scanning (`github/codeql-action/upload-sarif`).
//!
//! One run whose driver is "dockyard (trivy)"; one rule per finding id (deduplicated across
//! images and packages); one result per finding that fails, falls below the threshold or is
//! unfixed, and one per suppressed finding carrying a SARIF `suppressions` entry whose
//! justification is the ignore entry's reason.

use serde_json::{json, Value};

use super::ScanSummary;
use crate::{Finding, FindingKind, Severity, Verdict};

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// GitHub's `security-severity` scale (0.0 to 10.0), which decides the alert's severity badge.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
}

/// The `uri` of a finding's artifact: the package path of a language package, otherwise trivy's
/// target; relative (leading `/`s dropped) and percent-encoded where a URI needs it.
fn artifact_uri(finding: &Finding) -> String {
    let path = match (finding.kind, finding.location.as_deref()) {
        (FindingKind::Vulnerability, Some(package_path)) => package_path,
        _ => finding.target.as_str(),
    };
    let mut uri = String::new();
    for byte in path.trim_start_matches('/').bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte);
        if keep {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// The result's message: what, where, in which image, and why it is not failing when it is not.
fn result_message(finding: &Finding) -> String {
    let what = match finding.kind {
        FindingKind::Vulnerability => {
            let mut what = format!(
                "{} in {} {}",
                finding.id,
                finding.package.as_deref().unwrap_or("a package"),
                finding.installed_version.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned();
            match &finding.fixed_version {
                Some(fixed) => what.push_str(&format!(" (fixed in {fixed})")),
                None => what.push_str(" (no fix yet)"),
            }
            what
        }
        FindingKind::Secret => format!(
            "secret {} at {}",
            finding.id,
            finding.location.as_deref().unwrap_or(&finding.target)
        ),
        FindingKind::Misconfiguration => format!("{} in {}", finding.id, finding.target),
    };
    let verdict = match &finding.verdict {
        Verdict::Fails => String::new(),
        Verdict::BelowThreshold => " [below the failing severity]".to_owned(),
        Verdict::Unfixed => " [ignored: no fix available]".to_owned(),
        Verdict::Suppressed { entry_id, .. } => format!(" [suppressed by {entry_id}]"),
    };
    format!(
        "{} {what} in image {}: {}{verdict}",
        finding.severity, finding.image, finding.title
    )
}

/// The scan as SARIF 2.1.0 (pretty-printed JSON).
///
/// Results have level `error` when they fail the gate and `note` otherwise; unfixed findings are
/// included as notes (they are over the severity threshold and worth seeing), suppressed ones carry
/// `suppressions: [{kind: external, status: accepted, justification: REASON}]`.
pub fn to_sarif(summary: &ScanSummary) -> String {
    let mut rules: Vec<(String, Value, Severity, FindingKind)> = Vec::new();
    let mut results = Vec::new();
    for finding in &summary.evaluation.findings {
        let rule_index = match rules.iter().position(|(id, _, _, _)| id == &finding.id) {
            Some(index) => {
                let highest = &mut rules[index].2;
                *highest = (*highest).max(finding.severity);
                index
            }
            None => {
                let mut rule = json!({
                    "id": finding.id,
                    "name": finding.id,
                    "shortDescription": {"text": finding.title},
                    "fullDescription": {"text": finding.title},
                    "help": {"text": match &finding.primary_url {
                        Some(url) => format!("{}: {url}", finding.title),
                        None => finding.title.clone(),
                    }},
                });
                if let Some(url) = &finding.primary_url {
                    rule["helpUri"] = json!(url);
                }
                rules.push((finding.id.clone(), rule, finding.severity, finding.kind));
                rules.len() - 1
            }
        };
        let level = if finding.verdict == Verdict::Fails {
            "error"
        } else {
            "note"
        };
        let mut region = json!({});
        if finding.kind == FindingKind::Secret {
            if let Some(line) = finding
                .location
                .as_deref()
                .and_then(|location| location.rsplit_once(':'))
                .and_then(|(_, line)| line.parse::<u64>().ok())
            {
                region = json!({"startLine": line});
            }
        }
        let mut physical_location = json!({"artifactLocation": {"uri": artifact_uri(finding)}});
        if region != json!({}) {
            physical_location["region"] = region;
        }
        let fingerprint = [
            finding.image.as_str(),
            finding.kind.as_str(),
            finding.id.as_str(),
            finding.package.as_deref().unwrap_or(""),
            finding.target.as_str(),
            finding.location.as_deref().unwrap_or(""),
        ]
        .join("|");
        let mut result = json!({
            "ruleId": finding.id,
            "ruleIndex": rule_index,
            "level": level,
            "message": {"text": result_message(finding)},
            "locations": [{"physicalLocation": physical_location}],
            "partialFingerprints": {"dockyardFinding/v1": fingerprint},
            "properties": {
                "image": finding.image,
                "kind": finding.kind.as_str(),
                "severity": finding.severity,
            },
        });
        if let Verdict::Suppressed { reason, .. } = &finding.verdict {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": reason,
            }]);
        }
        results.push(result);
    }
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|(_, mut rule, severity, kind)| {
            rule["properties"] = json!({
                "security-severity": security_severity(severity),
                "tags": ["security", kind.as_str(), severity.as_str()],
            });
            rule
        })
        .collect();
    let sarif = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dockyard (trivy)",
                "informationUri": "https://trivy.dev/",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&sarif)
        .unwrap_or_else(|error| format!("{{\"error\": {:?}}}", error.to_string()));
    text.push('\n');
    text
}
