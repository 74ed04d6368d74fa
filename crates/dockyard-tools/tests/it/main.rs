//! Provisioning against the real PyPI: a pinned wheel whose hash matches installs and runs; one whose recorded hash
//! differs is refused by pip and reported as a hash mismatch, leaving no half-made environment.
//!
//! PyPI is needed (through the machine's proxy and CA, as pip is configured); without it these tests skip loudly,
//! and fail under `CI=true`.
#![allow(clippy::print_stderr, reason = "tests report skips on stderr")]

use dockyard_tools::{provision_requirements, ToolsError};

/// idna 3.20, a small pure-Python wheel, as `requirements.txt` records it.
fn idna_line(sha256: &str) -> String {
    format!("idna==3.20 \\\n    --hash=sha256:{sha256}\n")
}

fn recorded_idna_sha256() -> String {
    let requirements = dockyard_tools::REQUIREMENTS;
    let start = requirements.find("idna==3.20").expect("idna is pinned");
    let hash = &requirements[start..];
    let hash = &hash[hash.find("sha256:").unwrap() + 7..];
    hash[..64].to_owned()
}

/// Skips loudly when the failure says PyPI cannot be reached; fails under CI=true.
fn pypi_or_skip(test: &str, error: &ToolsError) -> bool {
    let unreachable = matches!(
        error,
        ToolsError::InstallFailed { .. }
            | ToolsError::VenvFailed { .. }
            | ToolsError::PythonMissing
    );
    if unreachable {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: CI=true but provisioning failed: {error}\nhint: {}",
            error.hint()
        );
        eprintln!("SKIPPED {test}: cannot provision here: {error}");
    }
    unreachable
}

#[test]
fn a_wheel_matching_its_recorded_hash_installs_and_a_different_one_is_refused() {
    let test = "a_wheel_matching_its_recorded_hash_installs_and_a_different_one_is_refused";
    let dir = tempfile::tempdir().unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |line: &str| lines.lock().unwrap().push(line.to_owned());
    let good = idna_line(&recorded_idna_sha256());
    let toolbox = match provision_requirements(dir.path(), &good, &progress) {
        Ok(toolbox) => toolbox,
        Err(error) if pypi_or_skip(test, &error) => return,
        Err(error) => panic!("{error}"),
    };
    assert!(toolbox.root.join("bin/python").exists());
    assert!(
        lines.lock().unwrap()[0].contains("idna==3.20"),
        "{:?}",
        lines.lock().unwrap()
    );
    // A second call finds the finished environment and says nothing.
    let again = provision_requirements(dir.path(), &good, &progress).unwrap();
    assert_eq!(again, toolbox);
    assert_eq!(lines.lock().unwrap().len(), 1);

    let tampered = idna_line(&"0".repeat(64));
    let error = provision_requirements(dir.path(), &tampered, &|_| {}).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ToolsError::HashMismatch { .. }),
        "{message}"
    );
    assert!(
        message.contains("idna"),
        "the message names the package: {message}"
    );
    assert!(
        message.contains(&"0".repeat(64)),
        "and the expected hash: {message}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left.len(),
        2,
        "only the good environment and the lock remain: {left:?}"
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "tool_wheel_hash_mismatch",
        "a tools requirement whose recorded sha256 differs from the wheel PyPI serves",
        &format!("ToolsError::HashMismatch naming the package and hash; no half-made environment; hint: {}", error.hint()),
        &format!("dockyard-tools::{test}"),
    );
}
