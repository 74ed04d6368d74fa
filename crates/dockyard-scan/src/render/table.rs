//! The plain-text rendering of a scan: per image a table and a counts line, then the ignore list's problems and the verdict.

use super::{
    counts_sentence, entry_scope, image_sections, kind_label, not_run_warnings, package_or_target,
    verdict_counts, verdict_label, verdict_sentence, ScanSummary, VulnScanStatus,
};

const HEADER: [&str; 7] = [
    "SEVERITY",
    "KIND",
    "ID",
    "PACKAGE/TARGET",
    "INSTALLED",
    "FIXED",
    "VERDICT",
];

/// The scan as plain text: per image a table of findings (severity, kind, id, package or target,
/// installed and fixed versions, verdict) and the line "N findings over policy, M suppressed
/// (by ENTRY: n, ...), K below threshold"; a loud "vulnerability scan not run for IMAGE: REASON"
/// line where it applies; expired and unused ignore entries; and the verdict.
pub fn render_table(summary: &ScanSummary) -> String {
    let mut lines = Vec::new();
    for section in image_sections(summary) {
        let header = match section.scan {
            Some(scan) => format!(
                "== {} ({}), scanners: {}",
                section.image,
                scan.reference,
                scan.scanner_names(", ")
            ),
            None => format!("== {}", section.image),
        };
        lines.push(header);
        if let Some(VulnScanStatus::NotRun { reason }) =
            section.scan.map(|scan| &scan.vulnerability_scan)
        {
            lines.push(format!(
                "!!! vulnerability scan not run for {}: {reason}",
                section.image
            ));
        }
        if section.findings.is_empty() {
            lines.push("no findings".to_owned());
        } else {
            let rows: Vec<[String; 7]> = section
                .findings
                .iter()
                .map(|finding| {
                    [
                        finding.severity.to_string(),
                        kind_label(finding.kind).to_owned(),
                        finding.id.clone(),
                        package_or_target(finding).to_owned(),
                        finding.installed_version.clone().unwrap_or_default(),
                        finding.fixed_version.clone().unwrap_or_default(),
                        verdict_label(&finding.verdict),
                    ]
                })
                .collect();
            lines.extend(aligned_rows(&rows));
        }
        lines.push(counts_sentence(&verdict_counts(
            section.findings.iter().copied(),
        )));
        lines.push(String::new());
    }

    let evaluation = &summary.evaluation;
    if !evaluation.expired_entries.is_empty() {
        lines.push(
            "expired ignore entries (they suppress nothing and fail the scan until renewed or removed):"
                .to_owned(),
        );
        for entry in &evaluation.expired_entries {
            lines.push(format!(
                "  {} expired after {} ({}): {}",
                entry.id,
                entry.expires,
                entry_scope(entry),
                entry.reason
            ));
        }
    }
    if !evaluation.unused_entries.is_empty() {
        lines.push("unused ignore entries (they matched no finding; remove them):".to_owned());
        for entry in &evaluation.unused_entries {
            lines.push(format!(
                "  {} until {} ({}): {}",
                entry.id,
                entry.expires,
                entry_scope(entry),
                entry.reason
            ));
        }
    }
    for warning in not_run_warnings(summary) {
        lines.push(format!("!!! {warning}"));
    }
    lines.push(verdict_sentence(summary));
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The header and the rows, each column as wide as its widest cell, separated by two spaces,
/// without trailing whitespace.
fn aligned_rows(rows: &[[String; 7]]) -> Vec<String> {
    let header = HEADER.map(str::to_owned);
    let mut widths = [0usize; 7];
    for row in std::iter::once(&header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}
