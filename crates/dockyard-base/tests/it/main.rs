//! Integration tests of base-image bootstrapping: mmdebstrap with SOURCE_DATE_EPOCH makes the same root filesystem twice.
#![allow(clippy::print_stderr, reason = "tests report skips on stderr")]

use std::io::Read;
use std::path::Path;

use dockyard_config::Bootstrap;
use sha2::{Digest, Sha256};

fn sha256_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n_read = file.read(&mut buffer).unwrap();
        if n_read == 0 {
            break;
        }
        hasher.update(&buffer[..n_read]);
    }
    hex::encode(hasher.finalize())
}

#[test]
fn bootstrapping_twice_with_source_date_epoch_gives_the_same_root_filesystem() {
    if dockyard_base::find_mmdebstrap().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but mmdebstrap is not installed (.ci/run installs it)"
        );
        eprintln!("SKIPPED bootstrapping_twice_with_source_date_epoch_gives_the_same_root_filesystem: mmdebstrap is not installed");
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    // The smallest recipe that still installs packages beyond the variant, to keep the test short.
    let recipe = Bootstrap {
        suite: "bookworm".to_owned(),
        variant: "minbase".to_owned(),
        packages: vec!["ca-certificates".to_owned()],
        mirror: None,
        files: Vec::new(),
        changes: Vec::new(),
        architecture: None,
    };
    let mut digests = Vec::new();
    for attempt in ["first", "second"] {
        let output = folder.path().join(format!("{attempt}.tar"));
        let mut n_lines = 0;
        dockyard_base::bootstrap_rootfs(
            "test/rootfs:repro",
            &recipe,
            Some(1_700_000_000),
            &output,
            &mut |_| n_lines += 1,
        )
        .unwrap();
        assert!(n_lines > 0, "mmdebstrap printed no progress");
        digests.push(sha256_file(&output));
        std::fs::remove_file(&output).unwrap();
    }
    assert_eq!(
        digests[0], digests[1],
        "two bootstraps of the same recipe with the same SOURCE_DATE_EPOCH differ"
    );
}

#[test]
fn a_failing_bootstrap_names_the_image_and_shows_the_output() {
    if dockyard_base::find_mmdebstrap().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but mmdebstrap is not installed (.ci/run installs it)"
        );
        eprintln!("SKIPPED a_failing_bootstrap_names_the_image_and_shows_the_output: mmdebstrap is not installed");
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let recipe = Bootstrap {
        suite: "bookworm".to_owned(),
        variant: "minbase".to_owned(),
        packages: vec!["no-such-package-dockyard-test".to_owned()],
        mirror: None,
        files: Vec::new(),
        changes: Vec::new(),
        architecture: None,
    };
    let error = dockyard_base::bootstrap_rootfs(
        "test/rootfs:broken",
        &recipe,
        None,
        &folder.path().join("broken.tar"),
        &mut |_| {},
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("mmdebstrap failed for base image test/rootfs:broken (suite bookworm)"),
        "{message}"
    );
    assert!(
        message.contains("no-such-package-dockyard-test"),
        "the tail of mmdebstrap's output should name the package: {message}"
    );
    assert!(error.hint().unwrap().contains("package names"));
}
