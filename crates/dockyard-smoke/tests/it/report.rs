//! The smoke report: verdict counts and the table, JSON and JUnit XML renderings of a fixed report.

use dockyard_smoke::{CheckResult, SmokeReport};

fn result(
    group: &str,
    name: &str,
    passed: bool,
    duration_ms: u64,
    expected: &str,
    actual: &str,
    detail: &str,
) -> CheckResult {
    CheckResult {
        group: group.to_string(),
        name: name.to_string(),
        passed,
        duration_ms,
        expected: expected.to_string(),
        actual: actual.to_string(),
        detail: detail.to_string(),
    }
}

fn fixed_report() -> SmokeReport {
    SmokeReport {
        project: "notes".to_string(),
        run_id: "20250101-120000-ab12".to_string(),
        checks: vec![
            result(
                "structure app",
                "non-root user",
                true,
                0,
                "a non-root user",
                "10001:10001",
                "",
            ),
            result(
                "structure nginx",
                "exposed ports",
                false,
                0,
                "8080/tcp",
                "80/tcp, 8080/tcp",
                "unexpected 80/tcp",
            ),
            result(
                "http",
                "health through nginx",
                true,
                12,
                "status: 200; json status: ok",
                "status: 200",
                "",
            ),
            result(
                "http",
                "unknown host dropped",
                false,
                3,
                "no response",
                "status: 200",
                "",
            ),
            result(
                "static",
                "hashed css is immutable",
                false,
                1534,
                "header cache-control: contains \"immutable\"",
                "header cache-control: max-age=60\nsecond line",
                "",
            ),
            result(
                "lifecycle",
                "graceful stop",
                true,
                2301,
                "exit code 0 within 10 s",
                "exit code 0 after 2.3 s",
                "",
            ),
        ],
        start_to_healthy_ms: Some(4213),
        total_ms: 19876,
        service_ready_ms: std::collections::BTreeMap::new(),
        notes: vec!["vulnerability scan not run".to_string()],
    }
}

#[test]
fn verdict_counts() {
    let report = fixed_report();
    assert_eq!(report.n_failed(), 3);
    assert_eq!(report.n_passed(), 3);
    assert!(!report.passed());

    let all_passed = SmokeReport {
        checks: report
            .checks
            .iter()
            .filter(|check| check.passed)
            .cloned()
            .collect(),
        ..report.clone()
    };
    assert!(all_passed.passed());
    assert!(all_passed
        .render_table()
        .lines()
        .any(|line| line == "3 passed, 0 failed"));

    let empty = SmokeReport {
        checks: Vec::new(),
        ..report
    };
    assert!(empty.passed());
    assert_eq!(empty.n_failed(), 0);
}

#[test]
fn table() {
    let table = fixed_report().render_table();
    assert!(table.lines().any(|line| line == "3 passed, 3 failed"));
    insta::assert_snapshot!(table);
}

#[test]
fn table_without_checks_or_timings() {
    let report = SmokeReport {
        project: "notes".to_string(),
        run_id: "r1".to_string(),
        checks: Vec::new(),
        start_to_healthy_ms: None,
        total_ms: 0,
        service_ready_ms: std::collections::BTreeMap::new(),
        notes: Vec::new(),
    };
    insta::assert_snapshot!(report.render_table(), @r"
    dockyard smoke: notes (run r1)
    0 passed, 0 failed
    start to healthy: not measured
    total: 0 ms
    ");
}

#[test]
fn json() {
    let json = fixed_report().to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["passed"], false);
    assert_eq!(value["n_failed"], 3);
    assert_eq!(value["checks"][1]["group"], "structure nginx");
    insta::assert_snapshot!(json);
}

#[test]
fn junit_xml() {
    let report = fixed_report();
    let xml = report.to_junit_xml();
    assert_eq!(xml, report.to_junit_xml());
    insta::assert_snapshot!(xml);
}

#[test]
fn junit_xml_escapes_everything() {
    let report = SmokeReport {
        project: "a&b <\"quoted\"> 'it's'".to_string(),
        run_id: "r&1".to_string(),
        checks: vec![
            result(
                "http",
                "name with <tags> & \"quotes\" and 'apostrophes'",
                true,
                5,
                "",
                "",
                "",
            ),
            result(
                "http",
                "body check",
                false,
                1001,
                "body: contains \"</failure>\"",
                "body: <html>&nbsp;\u{1b}[31m\tline\r\nnext\u{0}",
                "a ]]> b",
            ),
        ],
        start_to_healthy_ms: None,
        total_ms: 1006,
        service_ready_ms: std::collections::BTreeMap::new(),
        notes: vec!["<note> & more".to_string()],
    };
    insta::assert_snapshot!(report.to_junit_xml());
}
