//! `write_tarball_file`: atomic write, `sha256sum -c` compatible sidecar, cleanup on failure.
#![allow(
    clippy::disallowed_methods,
    reason = "the test checks the sidecar with the system's sha256sum -c, as users would"
)]

use std::process::Command;

use dockyard_context::{
    pack_members, pack_source_tree, sha256_file, write_tarball_file, ContextError, Member,
    PackOptions, SourceRules,
};

use crate::support::{list_disk_tree, temp_dir, write_standard_project};

#[test]
fn writes_the_tarball_and_a_sha256sum_compatible_sidecar() {
    let project = temp_dir();
    write_standard_project(project.path());
    let out_dir = temp_dir();
    let tarball = out_dir.path().join("context.tar.gz");
    let summary = write_tarball_file(&tarball, |out| {
        pack_source_tree(
            project.path(),
            &SourceRules::default(),
            &PackOptions::default(),
            out,
        )
    })
    .unwrap();

    assert_eq!(sha256_file(&tarball).unwrap(), summary.sha256);
    let sidecar = std::fs::read_to_string(out_dir.path().join("context.tar.gz.sha256")).unwrap();
    assert_eq!(sidecar, format!("{}  context.tar.gz\n", summary.sha256));
    assert_eq!(
        list_disk_tree(out_dir.path()),
        vec![
            std::path::PathBuf::from("context.tar.gz"),
            std::path::PathBuf::from("context.tar.gz.sha256"),
        ],
        "no temp files left behind"
    );

    let check = Command::new("sha256sum")
        .arg("-c")
        .arg("context.tar.gz.sha256")
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sha256sum -c failed: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn overwrites_an_existing_tarball_atomically() {
    let out_dir = temp_dir();
    let tarball = out_dir.path().join("runtime.tar.gz");
    let first = write_tarball_file(&tarball, |out| {
        pack_members(
            &[Member::regular_file("a", "1")],
            &PackOptions::default(),
            out,
        )
    })
    .unwrap();
    let second = write_tarball_file(&tarball, |out| {
        pack_members(
            &[Member::regular_file("a", "2")],
            &PackOptions::default(),
            out,
        )
    })
    .unwrap();
    assert_ne!(first.sha256, second.sha256);
    assert_eq!(sha256_file(&tarball).unwrap(), second.sha256);
    assert_eq!(list_disk_tree(out_dir.path()).len(), 2);
}

#[test]
fn a_failing_packer_leaves_nothing_behind() {
    let out_dir = temp_dir();
    let tarball = out_dir.path().join("context.tar.gz");
    let error = write_tarball_file(&tarball, |out| {
        out.write_all(b"partial").unwrap();
        pack_members(
            &[Member::regular_file("../x", "")],
            &PackOptions::default(),
            out,
        )
    })
    .unwrap_err();
    assert!(matches!(error, ContextError::InvalidMemberPath { .. }));
    assert!(list_disk_tree(out_dir.path()).is_empty());
}

#[test]
fn a_packer_that_misreports_its_digest_is_caught() {
    let out_dir = temp_dir();
    let tarball = out_dir.path().join("context.tar.gz");
    let error = write_tarball_file(&tarball, |out| {
        let summary = pack_members(
            &[Member::regular_file("a", "1")],
            &PackOptions::default(),
            &mut *out,
        )?;
        out.write_all(b"trailing garbage").unwrap();
        Ok(summary)
    })
    .unwrap_err();
    assert!(
        matches!(error, ContextError::DigestMismatch { .. }),
        "{error:?}"
    );
    assert!(list_disk_tree(out_dir.path()).is_empty());
}

#[test]
fn output_path_needs_a_file_name() {
    let error = write_tarball_file("/".as_ref(), |out| {
        pack_members(&[], &PackOptions::default(), out)
    })
    .unwrap_err();
    assert!(matches!(
        error,
        ContextError::OutputPathHasNoFileName { .. }
    ));
}

#[test]
fn sha256_file_hashes_large_files_and_reports_missing_ones() {
    let dir = temp_dir();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, vec![7u8; 3 * 1024 * 1024 + 17]).unwrap();
    let output = Command::new("sha256sum").arg(&path).output().unwrap();
    let expected = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        sha256_file(&path).unwrap(),
        expected.split_whitespace().next().unwrap()
    );

    let error = sha256_file(&dir.path().join("missing.bin")).unwrap_err();
    assert!(matches!(error, ContextError::ReadFile { .. }));
}
