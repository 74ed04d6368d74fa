//! `.dockerignore` semantics: anchoring, `**`, `!` re-includes, comments and cleaning.
#![allow(
    clippy::disallowed_methods,
    reason = "the test makes a FIFO with mkfifo"
)]

use std::collections::BTreeSet;
use std::path::Path;

use dockyard_context::{dockerignore_pattern_to_gitignore, SourceRules};

use crate::support::{
    entry_paths, make_symlink, pack_source_to_bytes, render_error, temp_dir, write_file,
};

const FIXTURE_FILES: &[&str] = &[
    "foo",
    "a/foo",
    "a/b/foo",
    "keep.md",
    "notes.md",
    "docs/x.md",
    "docs/y.txt",
    "node_modules/pkg/index.js",
    "build/keep/a.txt",
    "build/drop.txt",
    "src/app.py",
    "src/app.pyc",
    "src/sub/mod.pyc",
];

fn write_fixture(root: &Path) {
    for file in FIXTURE_FILES {
        write_file(root, file, file.as_bytes());
    }
}

/// Packs the fixture with `dockerignore` (kept outside the tree) and returns the stored paths
/// that the rules removed, in archive order of the unfiltered pack.
fn removed_paths(dockerignore: &str) -> Vec<String> {
    let tree = temp_dir();
    let rules_folder = temp_dir();
    write_fixture(tree.path());
    let dockerignore_path = rules_folder.path().join(".dockerignore");
    std::fs::write(&dockerignore_path, dockerignore).unwrap();

    let (_, all_bytes) = pack_source_to_bytes(tree.path(), &SourceRules::default()).unwrap();
    let rules = SourceRules {
        dockerignore: Some(dockerignore_path),
        extra_deny: Vec::new(),
        max_file_bytes: None,
    };
    let (summary, kept_bytes) = pack_source_to_bytes(tree.path(), &rules).unwrap();
    assert!(
        summary.excluded.is_empty(),
        "plain .dockerignore hits are not reported"
    );
    let kept: BTreeSet<String> = entry_paths(&kept_bytes).into_iter().collect();
    entry_paths(&all_bytes)
        .into_iter()
        .filter(|path| !kept.contains(path))
        .collect()
}

#[track_caller]
fn check(dockerignore: &str, expected_removed: &[&str]) {
    assert_eq!(
        removed_paths(dockerignore),
        expected_removed,
        ".dockerignore:\n{dockerignore}"
    );
}

#[test]
fn plain_names_are_anchored_at_the_root() {
    check("foo", &["foo"]);
    check("/foo", &["foo"]);
    check("./foo", &["foo"]);
    check("foo/", &["foo"]);
    check("  foo  ", &["foo"]);
    check("*.md", &["keep.md", "notes.md"]);
    check("src/*.pyc", &["src/app.pyc"]);
    check("a/b/../foo", &["a/foo"]);
}

#[test]
fn double_star_matches_any_number_of_folders() {
    check("**/foo", &["a/b/foo", "a/foo", "foo"]);
    check("a/**/foo", &["a/b/foo", "a/foo"]);
    check("**/*.md", &["docs/x.md", "keep.md", "notes.md"]);
    check("**/*.pyc", &["src/app.pyc", "src/sub/mod.pyc"]);
    check(
        "src/**",
        &["src/app.py", "src/app.pyc", "src/sub/", "src/sub/mod.pyc"],
    );
}

#[test]
fn excluding_a_folder_excludes_everything_below_it() {
    check(
        "node_modules",
        &[
            "node_modules/",
            "node_modules/pkg/",
            "node_modules/pkg/index.js",
        ],
    );
    check("docs/*", &["docs/x.md", "docs/y.txt"]);
}

#[test]
fn bang_re_includes_and_the_last_match_wins() {
    check("*.md\n!keep.md", &["notes.md"]);
    check("docs/*\n!docs/x.md", &["docs/y.txt"]);
    check("build\n!build/keep", &["build/drop.txt"]);
    check("build\n!build/keep/a.txt", &["build/drop.txt"]);
    check(
        "!build/keep\nbuild",
        &[
            "build/",
            "build/drop.txt",
            "build/keep/",
            "build/keep/a.txt",
        ],
    );
    check(
        "*\n!src",
        &[
            "a/",
            "a/b/",
            "a/b/foo",
            "a/foo",
            "build/",
            "build/drop.txt",
            "build/keep/",
            "build/keep/a.txt",
            "docs/",
            "docs/x.md",
            "docs/y.txt",
            "foo",
            "keep.md",
            "node_modules/",
            "node_modules/pkg/",
            "node_modules/pkg/index.js",
            "notes.md",
        ],
    );
}

#[test]
fn comments_blank_lines_and_out_of_tree_patterns_do_nothing() {
    check("# foo\n\n   \n", &[]);
    check("../foo\n.\n/\n!", &[]);
    check("\u{feff}foo", &["foo"]);
    check("foo\r\nkeep.md\r\n", &["foo", "keep.md"]);
}

#[test]
fn single_character_wildcards_and_classes() {
    check("f?o", &["foo"]);
    check("[fk]*", &["foo", "keep.md"]);
}

#[test]
fn excluded_entries_are_never_inspected() {
    let tree = temp_dir();
    write_file(tree.path(), "app.py", b"");
    make_symlink(tree.path(), "escape", "/etc/passwd");
    make_symlink(tree.path(), "vendor/escape", "../../outside");
    let status = std::process::Command::new("mkfifo")
        .arg(tree.path().join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    write_file(
        tree.path(),
        ".dockerignore",
        b"escape\nvendor\npipe\n.dockerignore\n",
    );
    let rules = SourceRules {
        dockerignore: Some(tree.path().join(".dockerignore")),
        extra_deny: Vec::new(),
        max_file_bytes: None,
    };
    let (_, bytes) = pack_source_to_bytes(tree.path(), &rules).unwrap();
    assert_eq!(entry_paths(&bytes), vec!["app.py"]);
}

#[test]
fn translation_to_anchored_gitignore_patterns() {
    let cases: &[(&str, Option<&str>)] = &[
        ("foo", Some("/foo")),
        ("/foo", Some("/foo")),
        ("./foo/", Some("/foo")),
        ("foo/bar", Some("/foo/bar")),
        ("/a//b/../c", Some("/a/c")),
        ("*.pyc", Some("/*.pyc")),
        ("**/foo", Some("**/foo")),
        ("**", Some("**")),
        ("a/**/b", Some("/a/**/b")),
        ("!foo", Some("!/foo")),
        ("! foo ", Some("!/foo")),
        ("!**/foo", Some("!**/foo")),
        ("  spaced  ", Some("/spaced")),
        ("# comment", None),
        ("", None),
        ("   ", None),
        ("!", None),
        (".", None),
        ("/", None),
        ("..", None),
        ("../foo", None),
        ("a/../../foo", None),
    ];
    for (docker, gitignore) in cases {
        assert_eq!(
            dockerignore_pattern_to_gitignore(docker).as_deref(),
            *gitignore,
            "docker pattern {docker:?}"
        );
    }
}

#[test]
fn error_messages() {
    let tree = temp_dir();
    write_file(tree.path(), "app.py", b"");
    let missing = SourceRules {
        dockerignore: Some(tree.path().join("missing/.dockerignore")),
        extra_deny: Vec::new(),
        max_file_bytes: None,
    };
    let missing_error = pack_source_to_bytes(tree.path(), &missing).unwrap_err();

    let invalid_path = tree.path().join(".dockerignore");
    std::fs::write(&invalid_path, "# fine\nfoo\nsrc/{a,b\n").unwrap();
    let invalid = SourceRules {
        dockerignore: Some(invalid_path),
        extra_deny: Vec::new(),
        max_file_bytes: None,
    };
    let invalid_error = pack_source_to_bytes(tree.path(), &invalid).unwrap_err();

    let replacements = [(tree.path(), "[TREE]")];
    insta::assert_snapshot!(
        "dockerignore_errors",
        [
            render_error(&missing_error, &replacements),
            render_error(&invalid_error, &replacements),
        ]
        .join("\n\n")
    );
}

#[test]
fn gitignore_and_ignore_files_are_not_honoured() {
    let tree = temp_dir();
    write_file(tree.path(), ".gitignore", b"*\n");
    write_file(tree.path(), ".ignore", b"*\n");
    write_file(tree.path(), "sub/.gitignore", b"*.py\n");
    write_file(tree.path(), "sub/app.py", b"");
    write_file(tree.path(), ".hidden/config", b"");
    std::fs::create_dir(tree.path().join(".git")).unwrap();
    let (summary, bytes) = pack_source_to_bytes(tree.path(), &SourceRules::default()).unwrap();
    assert_eq!(
        entry_paths(&bytes),
        vec![
            ".gitignore",
            ".hidden/",
            ".hidden/config",
            ".ignore",
            "sub/",
            "sub/.gitignore",
            "sub/app.py",
        ]
    );
    assert_eq!(summary.excluded.len(), 1, "only .git/ is denied");
}
