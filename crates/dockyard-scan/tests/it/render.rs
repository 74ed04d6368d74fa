//! The four renderings (table, JSON, SARIF, Markdown) of evaluations of the fixture reports, one failing and one passing.

use dockyard_scan::{
    evaluate, render_table, to_json, to_markdown, to_sarif, ImageScan, Policy, ScanSummary,
    Scanner, VulnScanStatus,
};
use serde_json::Value;

use crate::support::{date, entry, fixture, ALPINE, DEBIAN, IMAGE_0_76, SECRETS};

fn image(name: &str, scanners: &[&str], vulnerability_scan: VulnScanStatus) -> ImageScan {
    ImageScan {
        image: name.to_owned(),
        reference: format!("notes/{name}:1.4.0"),
        scanners: scanners
            .iter()
            .map(|scanner| Scanner::from_name(scanner).expect("a trivy scanner"))
            .collect(),
        vulnerability_scan,
    }
}

/// app: debian packages, an unfixed Python package, and a real 0.76 report of secrets and
/// misconfigurations; nginx: alpine;
/// docs: secrets only, because the vulnerability database was unavailable. Some entries
/// suppress, one expired, one matches nothing.
fn failing_summary() -> ScanSummary {
    // A Python package with a HIGH vulnerability that has no fix, found where pip installed it.
    let python_packages = dockyard_scan::parse_report(
        r#"{"SchemaVersion": 2, "ArtifactName": "app.tar", "ArtifactType": "container_image",
            "Results": [{"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg", "Vulnerabilities": [
                {"VulnerabilityID": "GHSA-xxxx-yyyy-zzzz", "PkgName": "pyyaml",
                 "PkgPath": "opt/venv/lib/python3.12/site-packages/PyYAML-6.0.1.dist-info/METADATA",
                 "PkgIdentifier": {"PURL": "pkg:pypi/pyyaml@6.0.1"}, "InstalledVersion": "6.0.1",
                 "Status": "affected", "Severity": "HIGH", "Title": "a made-up advisory with a | pipe"}]}]}"#,
    )
    .unwrap();
    let reports = vec![
        ("app".to_owned(), fixture(DEBIAN)),
        ("app".to_owned(), python_packages),
        ("app".to_owned(), fixture(IMAGE_0_76)),
        ("nginx".to_owned(), fixture(ALPINE)),
        ("docs".to_owned(), fixture(SECRETS)),
    ];
    let mut config_secret = entry(
        "aws-secret-access-key",
        "2026-12-31",
        "build-time only | rotated after every build",
    );
    config_secret.path = Some("app.tar".to_owned());
    let mut healthcheck = entry(
        "DS-0026",
        "2026-12-31",
        "the orchestrator runs the health check",
    );
    healthcheck.image = Some("app".to_owned());
    let ignores = vec![
        entry(
            "CVE-2019-1549",
            "2026-12-31",
            "openssl timing side channel, not reachable from nginx",
        ),
        config_secret,
        healthcheck,
        entry("mysecret", "2026-01-01", "fake value in a test script"),
        entry(
            "CVE-2000-0001",
            "2027-06-30",
            "left over from an old base image",
        ),
    ];
    let policy = Policy {
        ignore_unfixed: true,
        ..Policy::default()
    };
    let evaluation = evaluate(&reports, &policy, &ignores, date("2026-06-15"));
    ScanSummary {
        images: vec![
            image("app", &["vuln", "secret", "misconfig"], VulnScanStatus::Ran),
            image("nginx", &["vuln", "secret", "misconfig"], VulnScanStatus::Ran),
            image(
                "docs",
                &["secret", "misconfig"],
                VulnScanStatus::NotRun {
                    reason: "vulnerability database unavailable while scanning target/dockyard/images/docs.tar: failed to download vulnerability DB".to_owned(),
                },
            ),
        ],
        evaluation,
    }
}

/// nginx only, its two failing CVEs accepted, and a clean image.
fn passing_summary() -> ScanSummary {
    let ignores = vec![
        entry("CVE-2019-1549", "2026-12-31", "not reachable"),
        entry("CVE-2019-1551", "2026-12-31", "not reachable either"),
    ];
    let policy = Policy {
        fail_on_severity: dockyard_scan::Severity::Medium,
        ..Policy::default()
    };
    let evaluation = evaluate(
        &[("nginx".to_owned(), fixture(ALPINE))],
        &policy,
        &ignores,
        date("2026-06-15"),
    );
    ScanSummary {
        images: vec![
            image("app", &["vuln", "secret"], VulnScanStatus::Ran),
            image("nginx", &["vuln", "secret"], VulnScanStatus::Ran),
        ],
        evaluation,
    }
}

#[test]
fn table() {
    let summary = failing_summary();
    let table = render_table(&summary);
    assert!(
        table.contains("vulnerability scan not run for docs: vulnerability database unavailable")
    );
    assert!(table.lines().all(|line| line == line.trim_end()));
    insta::assert_snapshot!(table);
}

#[test]
fn table_of_a_passing_scan() {
    let table = render_table(&passing_summary());
    assert!(table.ends_with("scan passed: no findings over policy, 4 suppressed\n"));
    insta::assert_snapshot!(table);
}

#[test]
fn json() {
    let summary = failing_summary();
    let json = to_json(&summary);
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["passed"], false);
    assert_eq!(value["suppressed_counts"]["CVE-2019-1549"], 2);
    assert_eq!(value["images"][2]["vulnerability_scan"]["ran"], false);
    insta::assert_snapshot!(json);
}

#[test]
fn sarif() {
    let sarif = to_sarif(&failing_summary());
    insta::assert_snapshot!(sarif);
}

#[test]
fn sarif_rules_are_unique_and_results_point_at_them() {
    let summary = failing_summary();
    let value: Value = serde_json::from_str(&to_sarif(&summary)).unwrap();
    assert_eq!(value["version"], "2.1.0");
    let run = &value["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "dockyard (trivy)");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let mut rule_ids: Vec<&str> = rules
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    let n_rules = rule_ids.len();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    assert_eq!(rule_ids.len(), n_rules, "rules are deduplicated by id");

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), summary.evaluation.findings.len());
    for result in results {
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|uri| !uri.contains(' ') && !uri.starts_with('/'))
        );
    }
    let errors = results
        .iter()
        .filter(|result| result["level"] == "error")
        .count();
    assert_eq!(errors, summary.evaluation.n_failing());
    let suppressed = results
        .iter()
        .filter(|result| result.get("suppressions").is_some())
        .count();
    assert_eq!(suppressed, summary.evaluation.n_suppressed());
    let secret_lines: Vec<u64> = results
        .iter()
        .filter_map(|result| {
            result["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64()
        })
        .collect();
    assert!(
        secret_lines.contains(&7),
        "the mysecret finding keeps its line"
    );
}

#[test]
fn markdown() {
    let markdown = to_markdown(&failing_summary());
    assert!(markdown.contains(
        "> [!WARNING]\n> vulnerability scan not run for docs: vulnerability database unavailable"
    ));
    insta::assert_snapshot!(markdown);
}

#[test]
fn markdown_of_a_passing_scan() {
    insta::assert_snapshot!(to_markdown(&passing_summary()));
}
