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
