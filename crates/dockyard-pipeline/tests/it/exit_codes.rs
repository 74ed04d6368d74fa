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
fn smoke_errors_keep_their_exit_codes() {
    use dockyard_engine::EngineError;
    use dockyard_pipeline::PipelineError;
    use dockyard_smoke::SmokeError;

    let check = |error: SmokeError, code: i32| {
        let error = PipelineError::from(error);
        assert_eq!(error.exit_code(), code, "{error}");
    };
    let engine = |error: EngineError| SmokeError::Engine(error);
    check(
        engine(EngineError::Unreachable {
            host: "unix:///var/run/docker.sock".to_owned(),
            reason: "no such file".to_owned(),
        }),
        exit_code::ENGINE_UNREACHABLE,
    );
    check(
        engine(EngineError::ConnectionLost {
            operation: "starting container app".to_owned(),
            host: "unix:///var/run/docker.sock".to_owned(),
            reason: "reset".to_owned(),
        }),
        exit_code::ENGINE_UNREACHABLE,
    );
    check(
        engine(EngineError::Api {
            operation: "creating container app".to_owned(),
            status: 500,
            message: "no space left".to_owned(),
        }),
        exit_code::BUILD_FAILED,
    );
    check(
        SmokeError::MigrationFailed {
            exit_code: 1,
            tail: vec!["django.db.utils.OperationalError".to_owned()],
        },
        exit_code::BUILD_FAILED,
    );
    check(
        SmokeError::ImageMissing {
            reference: "notes:dev".to_owned(),
        },
        exit_code::BUILD_FAILED,
    );
    check(
        SmokeError::Io {
            operation: "writing the smoke report",
            path: "target/dockyard/notes-smoke.json".into(),
            source: std::io::Error::other("disk full"),
        },
        exit_code::UNEXPECTED,
    );
}
