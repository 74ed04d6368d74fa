//! The policy gate on the fixture reports: thresholds, unfixed vulnerabilities, secrets, misconfigurations, and the expiring, scoped ignore list.

use dockyard_scan::policy::{package_url_matches, path_matches};
use dockyard_scan::{
    evaluate, parse_report, today_utc, Date, Evaluation, FindingKind, IgnoreEntry, Policy,
    Severity, TrivyReport, Verdict,
};

use crate::support::{date, entry, fixture, ALPINE, DEBIAN, IMAGE_0_76, SECRETS};

const TODAY: &str = "2026-06-15";

fn strict_policy() -> Policy {
    Policy {
        fail_on_severity: Severity::Medium,
        ignore_unfixed: false,
        misconfig_fail_on_severity: Severity::High,
        secrets_fail: true,
    }
}

fn all_fixtures() -> Vec<(String, TrivyReport)> {
    vec![
        ("app".to_owned(), fixture(DEBIAN)),
        ("app".to_owned(), fixture(SECRETS)),
        ("nginx".to_owned(), fixture(ALPINE)),
        ("worker".to_owned(), fixture(IMAGE_0_76)),
    ]
}

/// The evaluation in lines: one per finding (image, kind, id, package or location, severity,
/// verdict), then the gate and the ignore list's state.
fn describe(evaluation: &Evaluation) -> String {
    let mut lines: Vec<String> = evaluation
        .findings
        .iter()
        .map(|finding| {
            let verdict = match &finding.verdict {
                Verdict::Suppressed { entry_id, reason } => {
                    format!("suppressed by {entry_id} ({reason})")
                }
                verdict => format!("{verdict:?}"),
            };
            format!(
                "{} {} {} {} {} -> {verdict}",
                finding.image,
                finding.kind.as_str(),
                finding.id,
                finding
                    .package
                    .as_deref()
                    .or(finding.location.as_deref())
                    .unwrap_or(&finding.target),
                finding.severity,
            )
        })
        .collect();
    lines.push(format!(
        "passed: {}, failing: {}, suppressed: {:?}",
        evaluation.passed(),
        evaluation.n_failing(),
        evaluation.suppressed_counts
    ));
    let ids = |entries: &[IgnoreEntry]| {
        entries
            .iter()
            .map(|entry| format!("{} ({})", entry.id, entry.expires))
            .collect::<Vec<_>>()
            .join(", ")
    };
    lines.push(format!("expired: [{}]", ids(&evaluation.expired_entries)));
    lines.push(format!("unused: [{}]", ids(&evaluation.unused_entries)));
    lines.join("\n")
}

/// Evaluates the reports as of [`TODAY`] and describes the outcome under a heading.
fn check(
    name: &str,
    reports: &[(String, TrivyReport)],
    policy: &Policy,
    ignores: &[IgnoreEntry],
) -> String {
    let evaluation = evaluate(reports, policy, ignores, date(TODAY));
    format!("== {name}\n{}\n", describe(&evaluation))
}

fn scoped(
    mut base: IgnoreEntry,
    image: Option<&str>,
    package: Option<&str>,
    path: Option<&str>,
) -> IgnoreEntry {
    base.image = image.map(str::to_owned);
    base.package = package.map(str::to_owned);
    base.path = path.map(str::to_owned);
    base
}

#[test]
fn evaluations() {
    let fixtures = all_fixtures();
    let debian = vec![("app".to_owned(), fixture(DEBIAN))];
    let alpine = vec![("nginx".to_owned(), fixture(ALPINE))];
    let secrets = vec![("app".to_owned(), fixture(SECRETS))];
    let worker = vec![("worker".to_owned(), fixture(IMAGE_0_76))];
    let far = "2027-01-01";
    let outputs = [
        check(
            "default policy, every fixture",
            &fixtures,
            &Policy::default(),
            &[],
        ),
        check(
            "strict policy, every fixture",
            &fixtures,
            &strict_policy(),
            &[],
        ),
        check(
            "a LOW threshold without ignore_unfixed: both debian findings fail",
            &debian,
            &Policy {
                fail_on_severity: Severity::Low,
                ..strict_policy()
            },
            &[],
        ),
        check(
            "ignore_unfixed with a LOW threshold: bash has no fix, libidn2-0 has one",
            &debian,
            &Policy {
                fail_on_severity: Severity::Low,
                ignore_unfixed: true,
                ..strict_policy()
            },
            &[],
        ),
        check(
            "an id-only entry suppresses the CVE in both alpine packages",
            &alpine,
            &strict_policy(),
            &[entry(
                "CVE-2019-1549",
                far,
                "openssl timing side channel, not reachable",
            )],
        ),
        check(
            "a package-scoped entry suppresses one of the two",
            &alpine,
            &strict_policy(),
            &[scoped(
                entry("CVE-2019-1549", far, "libssl only"),
                None,
                Some("pkg:apk/alpine/libssl1.1"),
                None,
            )],
        ),
        check(
            "a package prefix stops at the package name",
            &alpine,
            &strict_policy(),
            &[scoped(
                entry("CVE-2019-1549", far, "wrong package"),
                None,
                Some("pkg:apk/alpine/libssl1"),
                None,
            )],
        ),
        check(
            "an image-scoped entry for another image matches nothing",
            &alpine,
            &strict_policy(),
            &[scoped(
                entry("CVE-2019-1549", far, "app only"),
                Some("app"),
                None,
                None,
            )],
        ),
        check(
            "an entry expired yesterday suppresses nothing and fails the gate",
            &alpine,
            &Policy {
                fail_on_severity: Severity::Critical,
                ..strict_policy()
            },
            &[entry(
                "CVE-2019-1549",
                "2026-06-14",
                "was fine until yesterday",
            )],
        ),
        check(
            "an entry expiring today still applies",
            &alpine,
            &strict_policy(),
            &[
                entry("CVE-2019-1549", TODAY, "last day"),
                entry("CVE-2019-1551", TODAY, "last day"),
            ],
        ),
        check(
            "entries that match nothing are unused but do not fail",
            &debian,
            &Policy {
                fail_on_severity: Severity::Critical,
                ..strict_policy()
            },
            &[
                entry("CVE-2000-0001", far, "left over"),
                entry("CVE-2019-18224", far, "accepted"),
                entry("cve-2019-18276", far, "ids compare without case"),
            ],
        ),
        check(
            "secrets fail whatever their severity, and are suppressed by a path scope",
            &secrets,
            &Policy {
                fail_on_severity: Severity::Critical,
                ..strict_policy()
            },
            &[scoped(
                entry("mysecret", far, "test fixture value"),
                None,
                None,
                Some("deploy.sh"),
            )],
        ),
        check(
            "a secret path glob with a leading slash matches image paths",
            &worker,
            &strict_policy(),
            &[
                scoped(
                    entry("aws-access-key-id", far, "rotated"),
                    Some("worker"),
                    None,
                    Some("/app/*.sh"),
                ),
                scoped(
                    entry("github-pat", far, "wrong folder"),
                    None,
                    None,
                    Some("srv/*"),
                ),
            ],
        ),
        check(
            "misconfigurations at a LOW threshold: both fail unless suppressed",
            &worker,
            &Policy {
                misconfig_fail_on_severity: Severity::Low,
                ..strict_policy()
            },
            &[entry("DS-0026", far, "the orchestrator checks health")],
        ),
        check(
            "two entries for one finding: the first suppresses, both are used",
            &debian,
            &strict_policy(),
            &[
                entry("CVE-2019-18224", far, "first"),
                scoped(
                    entry("CVE-2019-18224", far, "second"),
                    Some("app"),
                    None,
                    None,
                ),
            ],
        ),
    ];
    insta::assert_snapshot!(outputs.join("\n"));
}

#[test]
fn duplicate_cve_ids_are_separate_findings_and_one_entry_suppresses_both() {
    let evaluation = evaluate(
        &[("nginx".to_owned(), fixture(ALPINE))],
        &strict_policy(),
        &[entry("CVE-2019-1549", "2030-01-01", "not reachable")],
        date(TODAY),
    );
    assert_eq!(evaluation.findings.len(), 4);
    assert_eq!(evaluation.suppressed_counts.get("CVE-2019-1549"), Some(&2));
    assert_eq!(evaluation.n_suppressed(), 2);
    assert_eq!(evaluation.n_failing(), 2, "CVE-2019-1551 still fails twice");
    assert!(!evaluation.passed());
    assert!(evaluation.unused_entries.is_empty());
}

#[test]
fn an_expired_entry_fails_the_gate_even_without_findings() {
    let evaluation = evaluate(
        &[],
        &Policy::default(),
        &[entry("CVE-2019-1549", "2026-01-01", "old")],
        date(TODAY),
    );
    assert_eq!(evaluation.n_failing(), 0);
    assert_eq!(evaluation.expired_entries.len(), 1);
    assert!(
        evaluation.unused_entries.is_empty(),
        "expired is not unused"
    );
    assert!(!evaluation.passed());
}

#[test]
fn secrets_fail_even_when_low() {
    let report = parse_report(
        r#"{"Results": [{"Target": "/app/settings.py", "Class": "secret", "Secrets": [
            {"RuleID": "custom-low", "Severity": "LOW", "Title": "low secret", "StartLine": 9}]}]}"#,
    )
    .unwrap();
    let evaluation = evaluate(
        &[("app".to_owned(), report)],
        &Policy {
            fail_on_severity: Severity::Critical,
            ..Policy::default()
        },
        &[],
        date(TODAY),
    );
    let finding = &evaluation.findings[0];
    assert_eq!(finding.kind, FindingKind::Secret);
    assert_eq!(finding.verdict, Verdict::Fails);
    assert_eq!(finding.location.as_deref(), Some("/app/settings.py:9"));
}

#[test]
fn passed_misconfiguration_checks_are_not_findings() {
    let report = parse_report(
        r#"{"Results": [{"Target": "Dockerfile", "Class": "config", "Misconfigurations": [
            {"ID": "DS-0001", "Severity": "CRITICAL", "Status": "PASS"},
            {"ID": "DS-0003", "Severity": "CRITICAL", "Status": "EXCEPTION"},
            {"ID": "DS-0004", "Severity": "CRITICAL", "Status": "FAIL"},
            {"ID": "DS-0005", "Severity": "CRITICAL"}]}]}"#,
    )
    .unwrap();
    let evaluation = evaluate(
        &[("app".to_owned(), report)],
        &Policy::default(),
        &[],
        date(TODAY),
    );
    let ids: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|finding| finding.id.as_str())
        .collect();
    assert_eq!(ids, ["DS-0004", "DS-0005"]);
    assert_eq!(evaluation.n_failing(), 2);
}

#[test]
fn a_fixed_status_without_a_version_still_fails_under_ignore_unfixed() {
    let report = parse_report(
        r#"{"Results": [{"Target": "t", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-fixed", "PkgName": "p", "Status": "fixed", "Severity": "HIGH"},
            {"VulnerabilityID": "CVE-will-not", "PkgName": "p", "Status": "will_not_fix", "Severity": "HIGH"},
            {"VulnerabilityID": "CVE-versioned", "PkgName": "p", "FixedVersion": "2.0", "Severity": "HIGH"}]}]}"#,
    )
    .unwrap();
    let evaluation = evaluate(
        &[("app".to_owned(), report)],
        &Policy {
            ignore_unfixed: true,
            ..Policy::default()
        },
        &[],
        date(TODAY),
    );
    let verdicts: Vec<(&str, &Verdict)> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.id.as_str(), &finding.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("CVE-fixed", &Verdict::Fails),
            ("CVE-versioned", &Verdict::Fails),
            ("CVE-will-not", &Verdict::Unfixed),
        ]
    );
}

#[test]
fn findings_are_ordered_by_image_kind_severity_id_and_package() {
    let mut reports = all_fixtures();
    reports.reverse();
    let evaluation = evaluate(&reports, &strict_policy(), &[], date(TODAY));
    let forward = evaluate(&all_fixtures(), &strict_policy(), &[], date(TODAY));
    assert_eq!(
        evaluation, forward,
        "the order does not depend on the reports' order"
    );
    let keys: Vec<(String, FindingKind, std::cmp::Reverse<Severity>, String)> = evaluation
        .findings
        .iter()
        .map(|finding| {
            (
                finding.image.clone(),
                finding.kind,
                std::cmp::Reverse(finding.severity),
                finding.id.clone(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

/// `(pattern, candidate, expected)` rows for a matcher, checked all at once.
fn check_matcher(matcher: fn(&str, &str) -> bool, rows: &[(&str, &str, bool)]) {
    let wrong: Vec<String> = rows
        .iter()
        .filter(|(pattern, candidate, expected)| matcher(pattern, candidate) != *expected)
        .map(|(pattern, candidate, expected)| {
            format!("{pattern:?} against {candidate:?}: expected {expected}")
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn package_url_prefixes() {
    let bash = "pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10.1";
    check_matcher(
        package_url_matches,
        &[
            ("pkg:deb/debian/bash", bash, true),
            ("pkg:deb/debian/bash@5.0", bash, true),
            ("pkg:deb/debian/bash@5.0-4", bash, true),
            ("pkg:deb/debian/", bash, true),
            ("pkg:deb/debian/ba", bash, false),
            (
                "pkg:deb/debian/bash",
                "pkg:deb/debian/bash-completion@1:2.11-2",
                false,
            ),
            ("pkg:deb/debian/bash", "pkg:deb/debian/bash", true),
            ("pkg:deb/debian/bash", "pkg:deb/ubuntu/bash@5", false),
            ("pkg:pypi/django", "pkg:pypi/django@5.2.1", true),
        ],
    );
}

#[test]
fn path_patterns() {
    check_matcher(
        path_matches,
        &[
            ("app/tests", "/app/tests/fixtures/key.pem", true),
            ("/app/tests", "app/tests/fixtures/key.pem", true),
            ("app/tests/", "app/tests/key.pem", true),
            ("app/tests", "app/tests", true),
            ("app/tests", "app/tests_other/key.pem", false),
            ("app/*.pem", "/app/tests/fixtures/key.pem", true),
            ("*/fixtures/*", "/app/tests/fixtures/key.pem", true),
            ("*.pem", "/app/key.pem.bak", false),
            ("app/*/key.pem", "app/a/b/key.pem", true),
            ("deploy.sh", "deploy.sh", true),
            ("deploy.sh", "deploy.sh.orig", false),
            ("*", "anything at all (debian 10.1)", true),
            ("app.tar (debian *)", "app.tar (debian 12.5)", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
        ],
    );
}

#[test]
fn dates_parse_strictly() {
    let good = ["2026-12-31", "2024-02-29", "2000-02-29", "0001-01-01"];
    for text in good {
        assert_eq!(text.parse::<Date>().unwrap().to_string(), text);
    }
    let bad = [
        "2026-1-31",
        "2026-13-01",
        "2026-00-10",
        "2026-02-29",
        "1900-02-29",
        "2026-04-31",
        "2026-12-00",
        "31.12.2026",
        "2026-12-31T00:00:00Z",
        " 2026-12-31",
        "",
    ];
    let lines: Vec<String> = bad
        .iter()
        .map(|text| {
            let error = text.parse::<Date>().unwrap_err();
            assert!(!error.is_infrastructure());
            format!("{error}  (hint: {})", error.hint().unwrap_or_default())
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
    assert!(date("2026-01-31") < date("2026-02-01"));
    assert!(date("2025-12-31") < date("2026-01-01"));
}

#[test]
fn today_is_a_plausible_date() {
    let today = today_utc();
    assert!(today >= date("2025-01-01"), "{today}");
    assert!(today < date("2200-01-01"), "{today}");
    assert_eq!(today.to_string().parse::<Date>().unwrap(), today);
}

#[test]
fn an_entry_scoped_to_an_image_applies_to_its_other_platforms_and_not_to_another_image() {
    let arm64 = dockyard_scan::policy::platform_image_name("nginx", "linux/arm64");
    assert_eq!(arm64, "nginx linux/arm64");
    let reports = [
        ("nginx".to_owned(), fixture(ALPINE)),
        (arm64, fixture(ALPINE)),
    ];
    let scoped_to = |image: &str| {
        scoped(
            entry("CVE-2019-1549", "2030-01-01", "not reachable"),
            Some(image),
            None,
            None,
        )
    };
    let evaluation = evaluate(
        &reports,
        &strict_policy(),
        &[scoped_to("nginx")],
        date(TODAY),
    );
    assert_eq!(evaluation.findings.len(), 8, "both platforms' findings");
    assert_eq!(
        evaluation.suppressed_counts.get("CVE-2019-1549"),
        Some(&4),
        "suppressed on both platforms"
    );
    let evaluation = evaluate(&reports, &strict_policy(), &[scoped_to("app")], date(TODAY));
    assert_eq!(evaluation.n_suppressed(), 0);
    assert_eq!(evaluation.unused_entries.len(), 1);
}
