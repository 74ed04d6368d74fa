//! SBOMs: trivy's command line for one, the real trivy writing one offline (an empty cache, no database) for a
//! hand-built archive holding a Debian package and a Python package, and what a document that is not one gives.

use std::path::PathBuf;

use dockyard_scan::sbom::{sbom_args, summarize, write_sbom, SbomInvocation};
use dockyard_scan::ScanError;

use crate::runner::{installed_trivy, stand_in_trivy, write_docker_save_archive};

fn invocation(folder: &std::path::Path, program: PathBuf) -> SbomInvocation {
    SbomInvocation {
        program,
        image_archive: folder.join("app.tar"),
        reference: "notes/app:1.4.0".to_owned(),
        cache_dir: folder.join("cache"),
        timeout_seconds: 120,
        output: folder.join("reports/app.cdx.json"),
    }
}

#[test]
fn command_line() {
    let invocation = invocation(
        std::path::Path::new("/work/target/dockyard"),
        "trivy".into(),
    );
    insta::assert_snapshot!(format!("trivy {}", sbom_args(&invocation).join(" ")));
}

/// A Debian root with one installed package and a Python distribution in dist-packages.
fn write_image_with_packages(path: &std::path::Path) {
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": "10001"},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", "0".repeat(64))]},
        "history": [{"created_by": "COPY . / # dockyard"}],
    });
    let status = "Package: libpq5\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
                  Maintainer: Debian PostgreSQL Maintainers\nArchitecture: amd64\nSource: postgresql-15\n\
                  Version: 15.14-0+deb12u1\nDescription: PostgreSQL C client library\n";
    let metadata = "Metadata-Version: 2.1\nName: Django\nVersion: 5.2.19\nSummary: A high-level Python web framework\n";
    write_docker_save_archive(
        path,
        &[
            ("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"),
            ("etc/debian_version", "12.11\n"),
            ("var/lib/dpkg/status", status),
            ("opt/venv/lib/python3.11/site-packages/Django-5.2.19.dist-info/METADATA", metadata),
        ],
        &config,
    );
}

#[test]
fn the_real_trivy_writes_a_cyclonedx_sbom_offline_naming_the_image() {
    let Some(program) =
        installed_trivy("the_real_trivy_writes_a_cyclonedx_sbom_offline_naming_the_image")
    else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let invocation = invocation(folder.path(), program);
    write_image_with_packages(&invocation.image_archive);
    let summary = write_sbom(&invocation).expect("an SBOM needs no vulnerability database");
    assert!(
        !folder.path().join("cache/db/trivy.db").exists(),
        "no database was downloaded"
    );
    assert_eq!(
        summary.python_packages,
        [("Django".to_owned(), "5.2.19".to_owned())]
    );
    assert!(summary.components >= 2, "{summary:?}");
    assert!(summary.spec_version.starts_with("1."), "{summary:?}");
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&invocation.output).unwrap()).unwrap();
    assert_eq!(document["metadata"]["component"]["name"], "notes/app:1.4.0");
    let components = document["components"].as_array().unwrap();
    assert!(
        components.iter().any(|component| component["purl"]
            .as_str()
            .is_some_and(|purl| purl.starts_with("pkg:deb/debian/libpq5@15.14-0%2Bdeb12u1"))),
        "the Debian package is listed: {components:#?}"
    );
    assert_eq!(summarize(&document).unwrap(), summary);
}

#[test]
fn a_document_that_is_not_cyclonedx_is_refused_naming_the_file() {
    assert_eq!(
        summarize(&serde_json::json!({"SchemaVersion": 2, "Results": []})).unwrap_err(),
        "not a CycloneDX document (no `bomFormat: CycloneDX`)"
    );
    let folder = tempfile::tempdir().unwrap();
    let program = stand_in_trivy(folder.path(), "printf '{\"SchemaVersion\": 2}' > \"$out\"");
    let invocation = invocation(folder.path(), program);
    write_image_with_packages(&invocation.image_archive);
    let error = write_sbom(&invocation).unwrap_err();
    assert!(
        matches!(&error, ScanError::InvalidReport { path: Some(path), .. } if *path == invocation.output),
        "{error:?}"
    );
}
