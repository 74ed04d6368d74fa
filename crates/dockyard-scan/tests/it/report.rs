//! The report model: trivy's golden reports and a real 0.76 report parse into the typed model, odd but valid JSON is tolerated, and broken JSON is named by line and column.

use dockyard_scan::{parse_report, severity_from_report_text, ScanError, Severity, TrivyReport};

use crate::support::{fixture, fixture_text, ALPINE, DEBIAN, IMAGE_0_76, SECRETS};

#[test]
fn debian_golden_report() {
    let report = fixture(DEBIAN);
    assert_eq!(report.schema_version, Some(2));
    let vulnerabilities = &report.results[0].vulnerabilities;
    assert_eq!(vulnerabilities.len(), 2);
    assert_eq!(vulnerabilities[1].vendor_severity.get("nvd"), Some(&4));
    insta::assert_debug_snapshot!(report);
}

#[test]
fn alpine_golden_report() {
    insta::assert_debug_snapshot!(fixture(ALPINE));
}

#[test]
fn secrets_golden_report() {
    insta::assert_debug_snapshot!(fixture(SECRETS));
}

#[test]
fn trivy_0_76_image_report_with_secrets_and_misconfigurations() {
    let report = fixture(IMAGE_0_76);
    assert_eq!(report.trivy_version.as_deref(), Some("0.76.0"));
    assert_eq!(report.artifact_type.as_deref(), Some("container_image"));
    insta::assert_debug_snapshot!(report);
}

/// One line per report: the fields the policy uses, compactly.
fn describe(report: &TrivyReport) -> String {
    let mut parts = vec![format!(
        "schema {:?}, trivy {:?}, artifact {:?} ({:?})",
        report.schema_version, report.trivy_version, report.artifact_name, report.artifact_type
    )];
    for result in &report.results {
        parts.push(format!(
            "result {:?} class {:?} type {:?}",
            result.target, result.class, result.kind
        ));
        for vulnerability in &result.vulnerabilities {
            parts.push(format!(
                "vuln {} {} {:?} fixed {:?} status {:?} {} vendor {:?}",
                vulnerability.id,
                vulnerability.pkg_name,
                vulnerability.installed_version,
                vulnerability.fixed_version,
                vulnerability.status,
                vulnerability.severity,
                vulnerability.vendor_severity
            ));
        }
        for secret in &result.secrets {
            parts.push(format!(
                "secret {} {} line {:?}",
                secret.rule_id, secret.severity, secret.start_line
            ));
        }
        for misconfiguration in &result.misconfigurations {
            parts.push(format!(
                "misconfig {} {} status {:?}",
                misconfiguration.id, misconfiguration.severity, misconfiguration.status
            ));
        }
    }
    parts.join("; ")
}

#[test]
fn odd_but_valid_reports_are_tolerated() {
    let cases = [
        ("an empty object", r#"{}"#),
        (
            "nulls everywhere",
            r#"{"SchemaVersion": 2, "Trivy": null, "ArtifactName": null, "Results": [
                {"Target": null, "Class": null, "Vulnerabilities": null, "Secrets": null, "Misconfigurations": null}]}"#,
        ),
        (
            "unknown fields at every level",
            r#"{"SchemaVersion": 2, "Trivy": {"Version": "9.9.9", "Server": "x"}, "Future": {"a": [1]},
                "Results": [{"Target": "t", "Shiny": true, "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-1", "PkgName": "p", "InstalledVersion": "1", "Severity": "HIGH",
                     "PkgIdentifier": {"PURL": "pkg:deb/debian/p@1", "UID": "u", "BOMRef": "b"},
                     "Fingerprint": "sha256:0", "CVSS": {"nvd": {"V3Score": 9.8}}, "Whatever": null}]}]}"#,
        ),
        (
            "severities: lowercase, unknown, missing, null, a number",
            r#"{"Results": [{"Target": "t", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-a", "PkgName": "p", "Severity": "high"},
                {"VulnerabilityID": "CVE-b", "PkgName": "p", "Severity": "SEVERE"},
                {"VulnerabilityID": "CVE-c", "PkgName": "p"},
                {"VulnerabilityID": "CVE-d", "PkgName": "p", "Severity": null},
                {"VulnerabilityID": "CVE-e", "PkgName": "p", "Severity": 4}]}]}"#,
        ),
        (
            "vendor severities that are not integers are dropped",
            r#"{"Results": [{"Target": "t", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-a", "PkgName": "p", "Severity": "LOW",
                 "VendorSeverity": {"nvd": 2, "odd": "HIGH", "float": 1.5}}]}]}"#,
        ),
        (
            "empty strings are absent",
            r#"{"ArtifactName": "", "Results": [{"Target": "t", "Class": "", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-a", "PkgName": "p", "FixedVersion": "", "Status": "", "Severity": "LOW"}]}]}"#,
        ),
        (
            "a misconfiguration with only the old AVDID",
            r#"{"Results": [{"Target": "Dockerfile", "Misconfigurations": [
                {"AVDID": "AVD-DS-0002", "Severity": "HIGH", "Status": "FAIL"}]}]}"#,
        ),
        (
            "packages listed by --list-all-pkgs are ignored",
            r#"{"Results": [{"Target": "t", "Packages": [{"Name": "bash", "Version": "5"}]}]}"#,
        ),
    ];
    let lines: Vec<String> = cases
        .iter()
        .map(|(name, json)| match parse_report(json) {
            Ok(report) => format!("{name}: {}", describe(&report)),
            Err(error) => panic!("{name}: {error}"),
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

/// Parses `json`, which must fail, and describes the error and its hint.
fn check_invalid(name: &str, json: &str) -> String {
    let error = parse_report(json).expect_err(name);
    assert!(error.is_infrastructure(), "{name}: {error}");
    assert!(
        matches!(error, ScanError::InvalidReport { path: None, .. }),
        "{name}: {error:?}"
    );
    format!(
        "{name}:\n  error: {error}\n  hint: {}",
        error.hint().unwrap_or_default()
    )
}

#[test]
fn broken_reports_are_named_by_line_and_column() {
    let truncated = &fixture_text(DEBIAN)[..700];
    let cases = [
        ("empty text", ""),
        ("not json", "trivy: command not found\n"),
        (
            "a table instead of json",
            "\nReport Summary\n\n┌────────┐\n",
        ),
        ("truncated real report", truncated),
        ("results is a string", "{\n  \"Results\": \"none\"\n}"),
        (
            "a line number where a string belongs",
            "{\"Results\": [{\"Target\": 7}]}",
        ),
        ("schema version is text", "{\"SchemaVersion\": \"2\"}"),
    ];
    let lines: Vec<String> = cases
        .iter()
        .map(|(name, json)| check_invalid(name, json))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn severities_order_parse_and_print() {
    let mut shuffled = vec![
        Severity::High,
        Severity::Unknown,
        Severity::Critical,
        Severity::Low,
        Severity::Medium,
    ];
    shuffled.sort();
    assert_eq!(
        shuffled,
        [
            Severity::Unknown,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical
        ]
    );
    for severity in Severity::ALL_DESCENDING {
        assert_eq!(severity_from_report_text(severity.as_str()), severity);
        assert_eq!(
            severity_from_report_text(&severity.as_str().to_lowercase()),
            severity
        );
    }
    assert_eq!(severity_from_report_text("SEVERE"), Severity::Unknown);
}
