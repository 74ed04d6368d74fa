//! Exit codes: distinct, and documented in README exactly as `exit_code::ALL` says (help is generated from it).

use std::collections::BTreeSet;
use std::path::Path;

use dockyard_pipeline::exit_code;

#[test]
fn exit_codes_and_meanings_are_distinct() {
    let codes: BTreeSet<i32> = exit_code::ALL.iter().map(|doc| doc.code).collect();
    assert_eq!(
        codes.len(),
        exit_code::ALL.len(),
        "an exit code is listed twice"
    );
    let meanings: BTreeSet<&str> = exit_code::ALL.iter().map(|doc| doc.meaning).collect();
    assert_eq!(
        meanings.len(),
        exit_code::ALL.len(),
        "two exit codes share a meaning"
    );
}

#[test]
fn the_help_text_lists_every_code() {
    let help = exit_code::help_text();
    for doc in exit_code::ALL {
        let line = format!("  {:<4}{}", doc.code, doc.meaning);
        assert!(
            help.lines().any(|l| l == line),
            "help lacks {line:?}:\n{help}"
        );
    }
}

#[test]
fn readme_holds_the_generated_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let table = exit_code::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's exit code table differs from exit_code::ALL; paste this under `## Exit codes`:\n\n{table}"
    );
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
