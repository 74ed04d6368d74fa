//! Image structure checks: judging facts collected from an image (user, ports, healthcheck, size,
//! compilers, secret-looking values) against expectations, without an engine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use crate::CheckResult;

/// The group [`structure_checks`] gives its results; the lead's runner uses
/// [`structure_checks_in_group`] with `structure app` or `structure nginx`.
pub const DEFAULT_STRUCTURE_GROUP: &str = "structure";

/// Parts of an env or label key that make its value secret-looking (compared on the key
/// uppercased, with `-` and `.` read as `_`).
pub const SECRET_LOOKING_KEY_PARTS: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "API_KEY",
    "PRIVATE_KEY",
];

/// The shortest value assigned to a secret-looking name in a history line that is flagged.
pub const MIN_SECRET_VALUE_CHARS: usize = 16;

/// The lowest Shannon entropy (bits per character) of a value assigned to a secret-looking name
/// in a history line that is flagged.
pub const MIN_SECRET_VALUE_ENTROPY_BITS: f64 = 3.0;

/// What the engine says about an image, collected by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    /// The image reference, e.g. `notes-app:latest`.
    pub reference: String,
    /// `Config.User`, e.g. `10001:10001`; empty when the image sets none.
    pub user: String,
    /// `Config.ExposedPorts` keys, e.g. `8000/tcp`.
    pub exposed_ports: Vec<String>,
    /// `Config.Healthcheck.Test`, e.g. `["CMD", "python", "/app/healthcheck.py"]`; empty when none.
    pub healthcheck: Vec<String>,
    /// `Config.Env`, `NAME=value` each.
    pub env: Vec<String>,
    /// `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// The `CreatedBy` lines of the image history, in the order the caller lists them.
    pub history: Vec<String>,
    /// The image size.
    pub size_bytes: u64,
    /// Compilers and build tools a probe found inside a container of the image (`gcc`, `make`, ...).
    pub compilers_found: Vec<String>,
}

/// What the structure checks require of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructureExpectations {
    /// The exact set of exposed ports (`8000` means `8000/tcp`).
    pub exposed_ports: Vec<String>,
    /// The largest acceptable image size; `None` skips the size check.
    pub size_budget_bytes: Option<u64>,
    /// Whether a `HEALTHCHECK` is required; `false` skips the healthcheck check.
    pub require_healthcheck: bool,
}

/// [`structure_checks_in_group`] with the group [`DEFAULT_STRUCTURE_GROUP`].
pub fn structure_checks(
    facts: &ImageFacts,
    expectations: &StructureExpectations,
) -> Vec<CheckResult> {
    structure_checks_in_group(DEFAULT_STRUCTURE_GROUP, facts, expectations)
}

/// One result per property, in this order: `non-root user`, `no compilers`, `healthcheck present`
/// (only when required), `exposed ports`, `size within budget` (only with a budget),
/// `no secret-looking values`. Durations are 0: the facts were collected beforehand.
pub fn structure_checks_in_group(
    group: &str,
    facts: &ImageFacts,
    expectations: &StructureExpectations,
) -> Vec<CheckResult> {
    let mut results = vec![
        non_root_user_check(group, facts),
        no_compilers_check(group, facts),
    ];
    if expectations.require_healthcheck {
        results.push(healthcheck_present_check(group, facts));
    }
    results.push(exposed_ports_check(group, facts, expectations));
    if let Some(budget_bytes) = expectations.size_budget_bytes {
        results.push(size_within_budget_check(group, facts, budget_bytes));
    }
    results.push(no_secret_looking_values_check(group, facts));
    results
}

/// Whether `Config.User` means root: empty, `root` or `0`, with or without a group
/// (`0:0`, `root:root`, `root:app`). `app`, `10001:10001` and `app:0` are not root.
pub fn user_is_root(user: &str) -> bool {
    let user_part = user.split(':').next().unwrap_or_default().trim();
    user_part.is_empty() || user_part == "root" || user_part == "0"
}

/// `8000` to `8000/tcp`, `53/UDP` to `53/udp`: the form of `Config.ExposedPorts` keys.
pub fn normalise_port(port: &str) -> String {
    let port = port.trim().to_ascii_lowercase();
    if port.contains('/') {
        port
    } else {
        format!("{port}/tcp")
    }
}

/// Where `facts` hold secret-looking values, by location only (never the value):
/// `Env DJANGO_SECRET_KEY`, `label com.example.token`, `history step 7` (1-based, in
/// [`ImageFacts::history`] order). Env entries in their order, then labels by key, then history
/// steps; each location once.
///
/// Flagged: env and label keys containing one of [`SECRET_LOOKING_KEY_PARTS`] with a non-empty
/// value (except digests like `sha256:...` and `..._FILE` keys pointing at a path); values
/// anywhere that look like an AWS access key id, a GitHub token, a PEM private key or a Slack
/// token; and, in history lines, a long high-entropy value assigned to a secret-looking name
/// (`SECRET_KEY=...` in an `ENV` or `RUN` line, `--password=...`). Variable references (`$X`)
/// and paths are not values.
pub fn find_secret_looking_values(facts: &ImageFacts) -> Vec<String> {
    let mut locations = Vec::new();
    for entry in &facts.env {
        let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        if key_and_value_look_secret(key, value) || value_looks_like_a_known_secret(value) {
            push_once(&mut locations, format!("Env {key}"));
        }
    }
    for (key, value) in &facts.labels {
        if key_and_value_look_secret(key, value) || value_looks_like_a_known_secret(value) {
            push_once(&mut locations, format!("label {key}"));
        }
    }
    for (index, line) in facts.history.iter().enumerate() {
        if value_looks_like_a_known_secret(line) || history_line_assigns_a_secret(line) {
            push_once(&mut locations, format!("history step {}", index + 1));
        }
    }
    locations
}

/// Shannon entropy of `text` in bits per character (0 for empty text).
pub fn shannon_entropy_bits_per_char(text: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    for character in text.chars() {
        *counts.entry(character).or_default() += 1;
    }
    let total = text.chars().count() as f64;
    if total == 0.0 {
        return 0.0;
    }
    counts
        .values()
        .map(|count| {
            let probability = *count as f64 / total;
            -probability * probability.log2()
        })
        .sum()
}

/// Values with a recognisable secret format, wherever they appear.
/// `None` only if the pattern were invalid, which a unit test rules out.
static KNOWN_SECRET_FORMAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"|\bgh[pousr]_[A-Za-z0-9]{36}\b",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----",
        r"|\bxox[baprs]-",
    ))
    .ok()
});

/// `NAME=value` (value bare, or in single or double quotes) where NAME is secret-looking.
static SECRET_ASSIGNMENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:^|[^A-Za-z0-9_.-])([A-Za-z0-9_.-]*(?:SECRET|PASSWORD|PASSWD|TOKEN|API[_-]?KEY|PRIVATE[_-]?KEY)[A-Za-z0-9_.-]*)=(?:"([^"]*)"|'([^']*)'|([^\s"';&|]+))"#,
    )
    .ok()
});

/// A `sha256:<64 hex>` digest (image ids, `dev.dockyard.*` inputs): not a secret.
static DIGEST: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^sha(?:256|384|512):[0-9a-f]{64,128}$").ok());

fn key_is_secret_looking(key: &str) -> bool {
    let normalised = key.to_ascii_uppercase().replace(['-', '.'], "_");
    SECRET_LOOKING_KEY_PARTS
        .iter()
        .any(|part| normalised.contains(part))
}

fn value_is_a_digest(value: &str) -> bool {
    DIGEST
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(value.trim()))
}

fn key_and_value_look_secret(key: &str, value: &str) -> bool {
    if value.trim().is_empty() || !key_is_secret_looking(key) || value_is_a_digest(value) {
        return false;
    }
    // `POSTGRES_PASSWORD_FILE=/run/secrets/db` names where a secret is, not the secret.
    let points_at_a_file =
        key.to_ascii_uppercase().ends_with("_FILE") && value.trim().starts_with('/');
    !points_at_a_file
}

fn value_looks_like_a_known_secret(value: &str) -> bool {
    KNOWN_SECRET_FORMAT
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(value))
}

fn history_line_assigns_a_secret(line: &str) -> bool {
    let Some(pattern) = SECRET_ASSIGNMENT.as_ref() else {
        return false;
    };
    pattern.captures_iter(line).any(|captures| {
        captures
            .get(2)
            .or(captures.get(3))
            .or(captures.get(4))
            .is_some_and(|value| assigned_value_looks_secret(value.as_str()))
    })
}

fn assigned_value_looks_secret(value: &str) -> bool {
    let is_reference = value.starts_with('$');
    let is_path = value.starts_with('/') || value.starts_with("./");
    !is_reference
        && !is_path
        && !value_is_a_digest(value)
        && value.chars().count() >= MIN_SECRET_VALUE_CHARS
        && shannon_entropy_bits_per_char(value) >= MIN_SECRET_VALUE_ENTROPY_BITS
}

fn push_once(locations: &mut Vec<String>, location: String) {
    if !locations.contains(&location) {
        locations.push(location);
    }
}

fn result(
    group: &str,
    name: &str,
    passed: bool,
    expected: String,
    actual: String,
    detail: String,
) -> CheckResult {
    CheckResult {
        group: group.to_string(),
        name: name.to_string(),
        passed,
        duration_ms: 0,
        expected,
        actual,
        detail,
    }
}

fn non_root_user_check(group: &str, facts: &ImageFacts) -> CheckResult {
    let is_root = user_is_root(&facts.user);
    let actual = if facts.user.trim().is_empty() {
        "no USER (runs as root)".to_string()
    } else {
        facts.user.clone()
    };
    let detail = if is_root {
        "set USER to a numeric uid:gid such as 10001:10001 in the Dockerfile".to_string()
    } else {
        String::new()
    };
    result(
        group,
        "non-root user",
        !is_root,
        "a non-root user".to_string(),
        actual,
        detail,
    )
}

fn no_compilers_check(group: &str, facts: &ImageFacts) -> CheckResult {
    let found: BTreeSet<&str> = facts.compilers_found.iter().map(String::as_str).collect();
    let actual = if found.is_empty() {
        "none".to_string()
    } else {
        found.iter().copied().collect::<Vec<_>>().join(", ")
    };
    let detail = if found.is_empty() {
        String::new()
    } else {
        "build tools belong in the builder image; install only runtime libraries in the production image".to_string()
    };
    result(
        group,
        "no compilers",
        found.is_empty(),
        "none".to_string(),
        actual,
        detail,
    )
}

fn healthcheck_present_check(group: &str, facts: &ImageFacts) -> CheckResult {
    let (passed, actual) = match facts.healthcheck.first().map(String::as_str) {
        None => (false, "none".to_string()),
        Some("NONE") => (false, "disabled (NONE)".to_string()),
        Some(_) => (true, facts.healthcheck.join(" ")),
    };
    let detail = if passed {
        String::new()
    } else {
        "add a HEALTHCHECK instruction to the Dockerfile".to_string()
    };
    result(
        group,
        "healthcheck present",
        passed,
        "a HEALTHCHECK".to_string(),
        actual,
        detail,
    )
}

fn exposed_ports_check(
    group: &str,
    facts: &ImageFacts,
    expectations: &StructureExpectations,
) -> CheckResult {
    let expected: BTreeSet<String> = expectations
        .exposed_ports
        .iter()
        .map(|port| normalise_port(port))
        .collect();
    let actual: BTreeSet<String> = facts
        .exposed_ports
        .iter()
        .map(|port| normalise_port(port))
        .collect();
    let missing: Vec<&str> = expected.difference(&actual).map(String::as_str).collect();
    let unexpected: Vec<&str> = actual.difference(&expected).map(String::as_str).collect();
    let mut detail_parts = Vec::new();
    if !missing.is_empty() {
        detail_parts.push(format!("missing {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        detail_parts.push(format!("unexpected {}", unexpected.join(", ")));
    }
    result(
        group,
        "exposed ports",
        expected == actual,
        port_list(&expected),
        port_list(&actual),
        detail_parts.join("; "),
    )
}

fn port_list(ports: &BTreeSet<String>) -> String {
    if ports.is_empty() {
        "none".to_string()
    } else {
        ports
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn size_within_budget_check(group: &str, facts: &ImageFacts, budget_bytes: u64) -> CheckResult {
    let passed = facts.size_bytes <= budget_bytes;
    let detail = if passed {
        format!("{} MB to spare", megabytes(budget_bytes - facts.size_bytes))
    } else {
        format!(
            "{} MB over budget",
            megabytes(facts.size_bytes - budget_bytes)
        )
    };
    result(
        group,
        "size within budget",
        passed,
        format!("at most {} MB", megabytes(budget_bytes)),
        format!("{} MB", megabytes(facts.size_bytes)),
        detail,
    )
}

/// Bytes as decimal megabytes with one decimal, as `docker images` shows them.
fn megabytes(bytes: u64) -> String {
    let tenths = (bytes + 50_000) / 100_000;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn no_secret_looking_values_check(group: &str, facts: &ImageFacts) -> CheckResult {
    let locations = find_secret_looking_values(facts);
    let passed = locations.is_empty();
    let actual = if passed {
        "none".to_string()
    } else {
        locations.join(", ")
    };
    let detail = if passed {
        String::new()
    } else {
        "pass secrets at run time (environment, mounted files) or as build secrets, never through ENV, ARG or LABEL".to_string()
    };
    result(
        group,
        "no secret-looking values",
        passed,
        "none".to_string(),
        actual,
        detail,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert!(KNOWN_SECRET_FORMAT.is_some());
        assert!(SECRET_ASSIGNMENT.is_some());
        assert!(DIGEST.is_some());
    }

    fn check_megabytes(bytes: u64, expected: &str) {
        assert_eq!(megabytes(bytes), expected, "{bytes} bytes");
    }

    #[test]
    fn megabytes_round_to_one_decimal() {
        check_megabytes(0, "0.0");
        check_megabytes(49_999, "0.0");
        check_megabytes(50_000, "0.1");
        check_megabytes(123_456_789, "123.5");
        check_megabytes(250_000_000, "250.0");
    }
}
