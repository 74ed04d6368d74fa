//! Lints of the GitHub Actions workflows in `.github/workflows/`: the workflow schema (check-jsonschema,
//! with its vendored schema) and zizmor's security audits, both fully offline.
//! Without a linter these tests skip loudly, and fail under CI=true.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the workflow linters (check-jsonschema, zizmor) as CI would"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::{stderr, stdout, workspace_root};

/// The workflows, relative to the workspace root and sorted: every `.yml` or `.yaml` in `.github/workflows/`.
fn workflow_files() -> Vec<String> {
    let folder = workspace_root().join(".github/workflows");
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("read {}: {error}", folder.display()))
        .map(|entry| entry.expect("read .github/workflows").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yml") || name.ends_with(".yaml"))
        .map(|name| format!(".github/workflows/{name}"))
        .collect();
    files.sort();
    for expected in [".github/workflows/ci.yml", ".github/workflows/release.yml"] {
        assert!(
            files.iter().any(|file| file == expected),
            "{expected} is missing; found {files:?}"
        );
    }
    files
}

/// Runs `program args... files...` from the workspace root, with colour off.
fn run_linter(program: &std::path::Path, args: &[&str], files: &[String]) -> Output {
    let root: PathBuf = workspace_root();
    Command::new(program)
        .args(args)
        .args(files)
        .current_dir(&root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|error| panic!("run {}: {error}", program.display()))
}

/// Panics with the command and everything the linter printed unless it exited 0.
fn assert_clean(what: &str, command: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}: `{command}` exited {:?}:\n{}{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

#[test]
fn workflows_match_the_github_workflow_schema() {
    let test = "workflows_match_the_github_workflow_schema";
    let Some((program, version)) =
        crate::support::tool_or_skip(dockyard_tools::Tool::CheckJsonschema, "--version", test)
    else {
        return;
    };
    let files = workflow_files();
    // The builtin schemas ship inside check-jsonschema: nothing is downloaded.
    let args = [
        "--builtin-schema",
        "vendor.github-workflows",
        "--color",
        "never",
    ];
    let output = run_linter(&program, &args, &files);
    assert_clean(
        "the workflows do not match GitHub's workflow schema",
        &format!("check-jsonschema {} {}", args.join(" "), files.join(" ")),
        &output,
    );
    eprintln!("{version}: {}", stdout(&output).trim());
}

#[test]
fn zizmor_finds_nothing_in_the_workflows() {
    let test = "zizmor_finds_nothing_in_the_workflows";
    let Some((program, version)) =
        crate::support::tool_or_skip(dockyard_tools::Tool::Zizmor, "--version", test)
    else {
        return;
    };
    let files = workflow_files();
    // `--offline`: only the audits that need no network (pins, permissions, template injection, credentials...).
    let args = [
        "--offline",
        "--min-severity",
        "low",
        "--format",
        "plain",
        "--no-progress",
        "--color",
        "never",
    ];
    let output = run_linter(&program, &args, &files);
    assert_clean(
        "zizmor found problems in the workflows: fix the workflow (an inline `# zizmor: ignore[audit]` comment with a reason only for a false positive)",
        &format!("zizmor {} {}", args.join(" "), files.join(" ")),
        &output,
    );
    eprintln!("{version}: {}", stdout(&output).trim());
}
