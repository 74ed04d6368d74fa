//! Exit codes: distinct, and documented in `cargo xtask --help` exactly as the table says.

use std::collections::BTreeSet;
use std::path::Path;

use dockyard_pipeline::exit_code;

#[test]
fn exit_codes_are_distinct() {
    let mut seen = BTreeSet::new();
    let duplicates: Vec<i32> = exit_code::ALL
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| !seen.insert(*code))
        .collect();
    assert!(
        duplicates.is_empty(),
        "exit codes used twice: {duplicates:?}"
    );
    let meanings: BTreeSet<&str> = exit_code::ALL.iter().map(|(_, meaning)| *meaning).collect();
    assert_eq!(
        meanings.len(),
        exit_code::ALL.len(),
        "two exit codes share a meaning"
    );
}

/// The `N  meaning` lines after `Exit codes:` in xtask/src/main.rs, up to the end of the string.
fn documented_exit_codes() -> Vec<(i32, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../xtask/src/main.rs");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let start = text
        .find("Exit codes:")
        .unwrap_or_else(|| panic!("{} has no `Exit codes:` text", path.display()));
    let mut res = Vec::new();
    for line in text[start..].lines().skip(1) {
        let end_of_string = line.trim_end().ends_with("\";");
        let line = line.trim().trim_end_matches("\";");
        let (number, meaning) = line
            .split_once(char::is_whitespace)
            .unwrap_or_else(|| panic!("not a `N  meaning` line: {line:?}"));
        let number = number
            .parse()
            .unwrap_or_else(|_| panic!("not a number in the exit code line {line:?}"));
        res.push((number, meaning.trim().to_owned()));
        if end_of_string {
            break;
        }
    }
    res
}

#[test]
fn exit_codes_match_the_help_text() {
    let documented = documented_exit_codes();
    let documented_numbers: BTreeSet<i32> = documented.iter().map(|(code, _)| *code).collect();
    assert_eq!(
        documented_numbers.len(),
        documented.len(),
        "the help text lists a code twice: {documented:?}"
    );
    let numbers: BTreeSet<i32> = exit_code::ALL.iter().map(|(code, _)| *code).collect();
    assert_eq!(
        documented_numbers, numbers,
        "xtask/src/main.rs `Exit codes:` and exit_code::ALL list different codes"
    );
    // The help text may say more, but starts with the table's meaning.
    for (code, meaning) in exit_code::ALL {
        let (_, help) = documented
            .iter()
            .find(|(documented, _)| documented == code)
            .expect("checked above");
        assert!(
            help.starts_with(meaning),
            "exit code {code}: the help says {help:?}, exit_code::ALL says {meaning:?}"
        );
    }
}

#[test]
fn release_failures_keep_their_exit_codes() {
    use dockyard_pipeline::PipelineError;
    use dockyard_release::{CredentialsError, ReleaseError};
    let check = |error: ReleaseError, expected: i32| {
        let message = error.to_string();
        assert_eq!(
            PipelineError::from(error).exit_code(),
            expected,
            "{message}"
        );
    };
    check(ReleaseError::DirtyTree, exit_code::RELEASE_REFUSED);
    check(
        ReleaseError::InvalidVersion {
            version: "1.0/evil".to_owned(),
        },
        exit_code::RELEASE_REFUSED,
    );
    check(ReleaseError::NoReleaseTable, exit_code::RELEASE_REFUSED);
    check(ReleaseError::Unscanned, exit_code::RELEASE_REFUSED);
    check(
        ReleaseError::PushFailed {
            reference: "127.0.0.1:5000/app:1.0".to_owned(),
            attempts: 4,
            message: "still failing: 503".to_owned(),
        },
        exit_code::PUSH_FAILED,
    );
    check(
        ReleaseError::Credentials(CredentialsError::PartialEnvironment {
            set: "USER".to_owned(),
            unset: "PASSWORD".to_owned(),
        }),
        exit_code::PUSH_FAILED,
    );
    check(
        ReleaseError::Io {
            operation: "writing",
            path: "release.json".into(),
            source: std::io::Error::other("disk full"),
        },
        exit_code::UNEXPECTED,
    );
}
