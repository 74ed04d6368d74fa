//! The preflight: which versions are valid image tags, and what a git tree says about the version and its state.

use std::path::Path;

use dockyard_release::{preflight, Preflight, ReleaseError, ReleaseOptions, Version};

/// `Version::parse(text)` is valid exactly when `valid` says so; an invalid one names the text and is a refusal.
fn check(text: &str, valid: bool) {
    match Version::parse(text) {
        Ok(version) => {
            assert!(valid, "{text:?} was accepted");
            assert_eq!(version.as_str(), text);
        }
        Err(error) => {
            assert!(!valid, "{text:?} was refused: {error}");
            assert!(error.is_refusal(), "{error:?}");
            assert!(error.to_string().contains(&format!("`{text}`")), "{error}");
        }
    }
}

#[test]
fn versions_are_docker_tags() {
    let longest = "a".repeat(dockyard_config::MAXIMUM_TAG_LENGTH);
    let too_long = "a".repeat(dockyard_config::MAXIMUM_TAG_LENGTH + 1);
    let cases: &[(&str, bool)] = &[
        ("1.2.3", true),
        ("v1.2.3-rc.1", true),
        ("_build", true),
        ("2026.12.03_1", true),
        (&longest, true),
        ("", false),
        (".1", false),
        ("-1", false),
        ("1.0/evil", false),
        ("1.0 beta", false),
        ("1.0:latest", false),
        ("versión", false),
        (&too_long, false),
    ];
    for (text, valid) in cases {
        check(text, *valid);
    }
}

/// Runs `git ARGS` in `dir`, failing the test when it fails.
fn git(dir: &Path, args: &[&str]) {
    let output = duct::cmd("git", args)
        .dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A git repository with one committed file.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "--quiet"]);
    std::fs::write(dir.path().join("deploy.toml"), "[project]\n").expect("write");
    git(dir.path(), &["add", "deploy.toml"]);
    git(dir.path(), &["commit", "--quiet", "-m", "first"]);
    dir
}

fn version(text: &str) -> Version {
    Version::parse(text).expect("valid version")
}

#[test]
fn the_version_comes_from_the_flag_then_the_tag_at_head_then_the_project() {
    let dir = repository();
    let root = dir.path();
    let options = ReleaseOptions::default();
    let clean = |text: &str| Preflight {
        version: version(text),
        dirty: false,
    };
    assert_eq!(preflight(root, "0.1.0", &options).unwrap(), clean("0.1.0"));
    git(root, &["tag", "v2.0.0"]);
    assert_eq!(preflight(root, "0.1.0", &options).unwrap(), clean("2.0.0"));
    let flagged = ReleaseOptions {
        version: Some("3.0.0".to_owned()),
        ..ReleaseOptions::default()
    };
    assert_eq!(preflight(root, "0.1.0", &flagged).unwrap(), clean("3.0.0"));
    let bad = ReleaseOptions {
        version: Some("1.0/evil".to_owned()),
        ..ReleaseOptions::default()
    };
    let error = preflight(root, "0.1.0", &bad).unwrap_err();
    assert!(
        matches!(error, ReleaseError::InvalidVersion { .. }),
        "{error:?}"
    );
}

#[test]
fn a_dirty_tree_is_refused_unless_allowed_and_always_recorded() {
    let dir = repository();
    let root = dir.path();
    std::fs::write(root.join("deploy.toml"), "[project]\nname = \"changed\"\n").expect("write");
    let error = preflight(root, "0.1.0", &ReleaseOptions::default()).unwrap_err();
    assert!(matches!(error, ReleaseError::DirtyTree), "{error:?}");
    assert!(error.is_refusal());
    assert!(error.hint().unwrap().contains("--allow-dirty"));
    let allowed = ReleaseOptions {
        allow_dirty: true,
        ..ReleaseOptions::default()
    };
    let expected = Preflight {
        version: version("0.1.0"),
        dirty: true,
    };
    assert_eq!(preflight(root, "0.1.0", &allowed).unwrap(), expected);
    assert_eq!(
        preflight(root, "0.1.0", &ReleaseOptions::for_check()).unwrap(),
        expected
    );
}

#[test]
fn outside_git_the_project_version_is_used() {
    let dir = tempfile::tempdir().expect("temp dir");
    let found = preflight(dir.path(), "0.4.2", &ReleaseOptions::default()).unwrap();
    assert_eq!(
        found,
        Preflight {
            version: version("0.4.2"),
            dirty: false
        }
    );
}
