//! The Markdown rendering of a scan, for `$GITHUB_STEP_SUMMARY`: a heading with the verdict, warnings as blockquotes, a table per image, and the ignore list's problems.
//!
//! Findings over the policy are always shown; the others (suppressed, unfixed, below threshold)
//! fold into a `<details>` block so a long tail of LOW findings does not bury the ones that matter.

use super::{
    counts_sentence, entry_scope, image_sections, kind_label, not_run_warnings, package_or_target,
    verdict_counts, verdict_label, verdict_sentence, ScanSummary,
};
use crate::{Finding, Verdict};

const TABLE_HEADER: &str = "| Severity | Kind | ID | Package / target | Installed | Fixed | Verdict |\n| --- | --- | --- | --- | --- | --- | --- |";

/// A table cell: pipes escaped, line breaks flattened, empty cells shown as a dash.
fn cell(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "-".to_owned();
    }
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

fn table_row(finding: &Finding) -> String {
    let id = match &finding.primary_url {
        Some(url) => format!("[{}]({})", cell(&finding.id), url.replace(')', "%29")),
        None => cell(&finding.id),
    };
    let verdict = match &finding.verdict {
        Verdict::Fails => "**FAIL**".to_owned(),
        verdict => cell(&verdict_label(verdict)),
    };
    format!(
        "| {} | {} | {id} | {} | {} | {} | {verdict} |",
        finding.severity,
        kind_label(finding.kind),
        cell(package_or_target(finding)),
        cell(finding.installed_version.as_deref().unwrap_or("")),
        cell(finding.fixed_version.as_deref().unwrap_or("")),
    )
}

/// The scan as GitHub-flavoured Markdown.
pub fn to_markdown(summary: &ScanSummary) -> String {
    let evaluation = &summary.evaluation;
    let mut blocks = Vec::new();
    let outcome = if evaluation.passed() {
        "passed"
    } else {
        "failed"
    };
    blocks.push(format!("## dockyard scan {outcome}"));
    for warning in not_run_warnings(summary) {
        blocks.push(format!("> [!WARNING]\n> {warning}"));
    }
    blocks.push(verdict_sentence(summary));

    for section in image_sections(summary) {
        let mut block = vec![format!("### {}", section.image)];
        if let Some(scan) = section.scan {
            block.push(String::new());
            block.push(format!(
                "`{}`, scanners: {}",
                scan.reference,
                scan.scanner_names(", ")
            ));
        }
        block.push(String::new());
        let (failing, others): (Vec<&Finding>, Vec<&Finding>) = section
            .findings
            .iter()
            .partition(|finding| finding.verdict == Verdict::Fails);
        if section.findings.is_empty() {
            block.push("No findings.".to_owned());
        } else if failing.is_empty() {
            block.push("No findings over policy.".to_owned());
        } else {
            block.push(TABLE_HEADER.to_owned());
            block.extend(failing.iter().map(|finding| table_row(finding)));
        }
        if !others.is_empty() {
            block.push(String::new());
            block.push(format!(
                "<details><summary>{} not failing (suppressed, unfixed or below threshold)</summary>",
                if others.len() == 1 {
                    "1 finding".to_owned()
                } else {
                    format!("{} findings", others.len())
                }
            ));
            block.push(String::new());
            block.push(TABLE_HEADER.to_owned());
            block.extend(others.iter().map(|finding| table_row(finding)));
            block.push(String::new());
            block.push("</details>".to_owned());
        }
        block.push(String::new());
        block.push(counts_sentence(&verdict_counts(
            section.findings.iter().copied(),
        )));
        blocks.push(block.join("\n"));
    }

    if !evaluation.expired_entries.is_empty() || !evaluation.unused_entries.is_empty() {
        let mut block = vec!["### Ignore list".to_owned()];
        if !evaluation.expired_entries.is_empty() {
            block.push(String::new());
            block.push(
                "**Expired** (they suppress nothing and fail the scan until renewed or removed):"
                    .to_owned(),
            );
            block.push(String::new());
            for entry in &evaluation.expired_entries {
                block.push(format!(
                    "- `{}` expired after {} ({}): {}",
                    entry.id,
                    entry.expires,
                    entry_scope(entry),
                    cell(&entry.reason)
                ));
            }
        }
        if !evaluation.unused_entries.is_empty() {
            block.push(String::new());
            block.push("**Unused** (they matched no finding; remove them):".to_owned());
            block.push(String::new());
            for entry in &evaluation.unused_entries {
                block.push(format!(
                    "- `{}` until {} ({}): {}",
                    entry.id,
                    entry.expires,
                    entry_scope(entry),
                    cell(&entry.reason)
                ));
            }
        }
        blocks.push(block.join("\n"));
    }
    let mut text = blocks.join("\n\n");
    text.push('\n');
    text
}
