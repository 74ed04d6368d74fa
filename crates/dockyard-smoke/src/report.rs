//! The smoke report: one result per check, and its renderings as a text table, JSON and JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// What kind of check: `declared`, `static`, `nginx`, `load`, `structure app`, `structure nginx`, `lifecycle`.
    pub group: String,
    /// A short name, unique within its group.
    pub name: String,
    /// Whether the check passed.
    pub passed: bool,
    /// How long the check took (0 for checks computed from facts already collected).
    pub duration_ms: u64,
    /// What the check expected, as a short fragment.
    pub expected: String,
    /// What it found, as a short fragment.
    pub actual: String,
    /// More context (a hint, the full list behind `actual`); may be empty.
    pub detail: String,
}

impl CheckResult {
    /// The result of a check that started at `started` and failed when there is a `failure`.
    pub fn timed(
        group: &str,
        name: &str,
        started: Instant,
        failure: Option<Failure>,
    ) -> CheckResult {
        let passed = failure.is_none();
        let Failure {
            expected,
            actual,
            detail,
        } = failure.unwrap_or_default();
        CheckResult {
            group: group.to_owned(),
            name: name.to_owned(),
            passed,
            duration_ms: started.elapsed().as_millis() as u64,
            expected,
            actual,
            detail,
        }
    }
}

/// Why a check failed: what it expected and what it found, with more context when there is some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// What the check expected.
    pub expected: String,
    /// What it found.
    pub actual: String,
    /// More context (a log tail, the first error); may be empty.
    pub detail: String,
}

impl Failure {
    /// Expected against actual, no detail.
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            actual: actual.into(),
            detail: String::new(),
        }
    }

    /// The same failure with `detail`.
    pub fn with_detail(self, detail: impl Into<String>) -> Failure {
        Failure {
            detail: detail.into(),
            ..self
        }
    }
}

/// Everything one smoke run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmokeReport {
    /// The project name from `deploy.toml`.
    pub project: String,
    /// The run id that labels the run's containers.
    pub run_id: String,
    /// Every check, in the order they ran.
    pub checks: Vec<CheckResult>,
    /// From starting the app container to its first `healthy` state, when it got there.
    pub start_to_healthy_ms: Option<u64>,
    /// The whole run.
    pub total_ms: u64,
    /// From starting each `[services.<name>]` container to its readiness check passing, by service.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_ready_ms: BTreeMap<String, u64>,
    /// Remarks that are not checks, e.g. `vulnerability scan not run`.
    pub notes: Vec<String>,
}

/// The JSON document: the report plus its verdict, so consumers need not recount.
#[derive(Serialize)]
struct SmokeReportJson<'a> {
    passed: bool,
    n_passed: usize,
    n_failed: usize,
    #[serde(flatten)]
    report: &'a SmokeReport,
}

impl SmokeReport {
    /// Whether no check failed (a report without checks passes).
    pub fn passed(&self) -> bool {
        self.n_failed() == 0
    }

    /// How many checks failed.
    pub fn n_failed(&self) -> usize {
        self.checks.iter().filter(|check| !check.passed).count()
    }

    /// How many checks passed.
    pub fn n_passed(&self) -> usize {
        self.checks.len() - self.n_failed()
    }

    /// A plain-text table for CI logs.
    ///
    /// A title line, one row per check (`PASS|FAIL  group  name  (N ms)`, columns aligned),
    /// indented `expected:`/`actual:` lines (and `detail:` when there is one) under each failure,
    /// then `N passed, M failed` alone on a line, the timings and the notes. Line breaks inside
    /// values are shown as `\n` so every row stays one line.
    pub fn render_table(&self) -> String {
        let group_width = self
            .checks
            .iter()
            .map(|check| check.group.chars().count())
            .max()
            .unwrap_or(0);
        let name_width = self
            .checks
            .iter()
            .map(|check| check.name.chars().count())
            .max()
            .unwrap_or(0);

        let mut table = String::new();
        let _ = writeln!(
            table,
            "dockyard smoke: {} (run {})",
            one_line(&self.project),
            one_line(&self.run_id)
        );
        for check in &self.checks {
            let verdict = if check.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(
                table,
                "{verdict}  {:<group_width$}  {:<name_width$}  ({} ms)",
                one_line(&check.group),
                one_line(&check.name),
                check.duration_ms,
            );
            if !check.passed {
                let _ = writeln!(table, "      expected: {}", one_line(&check.expected));
                let _ = writeln!(table, "      actual:   {}", one_line(&check.actual));
                if !check.detail.is_empty() {
                    let _ = writeln!(table, "      detail:   {}", one_line(&check.detail));
                }
            }
        }
        let _ = writeln!(
            table,
            "{} passed, {} failed",
            self.n_passed(),
            self.n_failed()
        );
        match self.start_to_healthy_ms {
            Some(milliseconds) => {
                let _ = writeln!(table, "start to healthy: {milliseconds} ms");
            }
            None => {
                let _ = writeln!(table, "start to healthy: not measured");
            }
        }
        for (service, milliseconds) in &self.service_ready_ms {
            let _ = writeln!(table, "service {service} ready: {milliseconds} ms");
        }
        let _ = writeln!(table, "total: {} ms", self.total_ms);
        for note in &self.notes {
            let _ = writeln!(table, "note: {}", one_line(note));
        }
        table
    }

    /// The report as pretty-printed JSON, with `passed`, `n_passed` and `n_failed` added at the top.
    pub fn to_json(&self) -> String {
        let document = SmokeReportJson {
            passed: self.passed(),
            n_passed: self.n_passed(),
            n_failed: self.n_failed(),
            report: self,
        };
        match serde_json::to_string_pretty(&document) {
            Ok(json) => json,
            // Unreachable for these types (string keys only); kept as valid JSON instead of a panic.
            Err(error) => format!(
                "{{\"error\": {}}}",
                serde_json::Value::String(error.to_string())
            ),
        }
    }

    /// The report as JUnit XML: one `<testsuite name="dockyard smoke: PROJECT">`, one
    /// `<testcase classname="GROUP" name="NAME" time="SECONDS">` per check and a `<failure>` in
    /// each failed one. Deterministic: the same report gives the same bytes.
    pub fn to_junit_xml(&self) -> String {
        let n_tests = self.checks.len();
        let n_failed = self.n_failed();
        let total_seconds = milliseconds_as_seconds(self.total_ms);

        let mut xml = String::new();
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"dockyard smoke\" tests=\"{n_tests}\" failures=\"{n_failed}\" errors=\"0\" time=\"{total_seconds}\">"
        );
        let _ = writeln!(
            xml,
            "  <testsuite name=\"dockyard smoke: {}\" tests=\"{n_tests}\" failures=\"{n_failed}\" errors=\"0\" skipped=\"0\" time=\"{total_seconds}\">",
            escape_xml(&self.project, XmlPlace::Attribute)
        );
        xml.push_str("    <properties>\n");
        let _ = writeln!(
            xml,
            "      <property name=\"run_id\" value=\"{}\"/>",
            escape_xml(&self.run_id, XmlPlace::Attribute)
        );
        if let Some(milliseconds) = self.start_to_healthy_ms {
            let _ = writeln!(
                xml,
                "      <property name=\"start_to_healthy_ms\" value=\"{milliseconds}\"/>"
            );
        }
        xml.push_str("    </properties>\n");

        for check in &self.checks {
            let opening = format!(
                "<testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape_xml(&check.group, XmlPlace::Attribute),
                escape_xml(&check.name, XmlPlace::Attribute),
                milliseconds_as_seconds(check.duration_ms)
            );
            if check.passed {
                let _ = writeln!(xml, "    {opening}/>");
                continue;
            }
            let message = format!("expected {}, actual {}", check.expected, check.actual);
            let mut body = format!("expected: {}\nactual: {}", check.expected, check.actual);
            if !check.detail.is_empty() {
                body.push_str("\ndetail: ");
                body.push_str(&check.detail);
            }
            let _ = writeln!(xml, "    {opening}>");
            let _ = writeln!(
                xml,
                "      <failure message=\"{}\">{}</failure>",
                escape_xml(&message, XmlPlace::Attribute),
                escape_xml(&body, XmlPlace::Text)
            );
            xml.push_str("    </testcase>\n");
        }

        if !self.notes.is_empty() {
            let notes: Vec<String> = self
                .notes
                .iter()
                .map(|note| format!("note: {note}"))
                .collect();
            let _ = writeln!(
                xml,
                "    <system-out>{}</system-out>",
                escape_xml(&notes.join("\n"), XmlPlace::Text)
            );
        }
        xml.push_str("  </testsuite>\n");
        xml.push_str("</testsuites>\n");
        xml
    }
}

/// `1234` to `1.234`: JUnit times are seconds.
fn milliseconds_as_seconds(milliseconds: u64) -> String {
    format!("{}.{:03}", milliseconds / 1000, milliseconds % 1000)
}

/// Where escaped text goes: attribute values keep line breaks only as character references.
#[derive(Clone, Copy, PartialEq, Eq)]
enum XmlPlace {
    Text,
    Attribute,
}

/// Escapes `& < > " '`; carriage returns (and, in attributes, line feeds and tabs) become
/// character references so parsers keep them, and characters XML 1.0 forbids become U+FFFD.
fn escape_xml(text: &str, place: XmlPlace) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\r' => escaped.push_str("&#13;"),
            '\n' if place == XmlPlace::Attribute => escaped.push_str("&#10;"),
            '\t' if place == XmlPlace::Attribute => escaped.push_str("&#9;"),
            '\n' | '\t' => escaped.push(character),
            character if is_allowed_in_xml(character) => escaped.push(character),
            _ => escaped.push('\u{FFFD}'),
        }
    }
    escaped
}

/// The `Char` production of XML 1.0 (tab, line feed and carriage return are handled before).
fn is_allowed_in_xml(character: char) -> bool {
    matches!(character,
        '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Keeps a value on one table line: line breaks and tabs as `\n`, `\r`, `\t`, other control
/// characters as `\u{..}`.
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            character if character.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", u32::from(character));
            }
            character => line.push(character),
        }
    }
    line
}
