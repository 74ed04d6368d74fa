//! Tidy checks of the repository itself: conventions a review would otherwise have to remember.
//!
//! Each check collects every offender and fails once with a `file:line` list. The needles are built with
//! `concat!` so that this file does not match its own checks.

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the workspace Cargo.toml, deploy.toml and README.md).
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Folders never looked into: build output, git, and generated Python files.
const SKIPPED_FOLDERS: &[&str] = &[
    "target",
    ".git",
    "__pycache__",
    "staticfiles",
    "node_modules",
    ".venv",
];

/// What `examples/` holds that is ours; every other entry there is a real-world project copied verbatim from
/// upstream (`examples/README.md` included), checked byte for byte by [`corpus_copies_are_byte_identical_to_upstream`]
/// and left out of the checks about our own code.
const OWN_ENTRIES_IN_EXAMPLES: &[&str] = &["corpus.toml", "overlays"];

/// Whether `relative` (a path from the repository root, with `/`) is part of an upstream copy under `examples/`.
fn is_upstream_copy(relative: &str) -> bool {
    let mut parts = relative.split('/');
    parts.next() == Some("examples")
        && parts
            .next()
            .is_some_and(|entry| !OWN_ENTRIES_IN_EXAMPLES.contains(&entry))
}

/// A file of the repository, with its path relative to the root using `/`.
struct RepoFile {
    path: PathBuf,
    relative: String,
}

impl RepoFile {
    fn text(&self) -> String {
        let bytes = std::fs::read(&self.path)
            .unwrap_or_else(|error| panic!("read {}: {error}", self.relative));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn is_rust(&self) -> bool {
        self.relative.ends_with(".rs")
    }

    /// Rust code that ships: `crates/*/src/**` and `xtask/src/**`.
    fn is_library_code(&self) -> bool {
        self.is_rust()
            && (self.relative.starts_with("xtask/src/")
                || (self.relative.starts_with("crates/")
                    && self.relative.split('/').nth(2) == Some("src")))
    }
}

/// Every file of the repository outside [`SKIPPED_FOLDERS`] and the upstream copies in `examples/`, sorted by path.
fn repository_files() -> Vec<RepoFile> {
    let root = repository_root();
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(&root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            !(entry.file_type().is_dir()
                && SKIPPED_FOLDERS
                    .iter()
                    .any(|skipped| entry.file_name() == *skipped))
        });
    for entry in walk {
        let entry = entry.unwrap_or_else(|error| panic!("walk the repository: {error}"));
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(&root)
            .expect("walked below the root")
            .to_string_lossy()
            .replace('\\', "/");
        if is_upstream_copy(&relative) {
            continue;
        }
        files.push(RepoFile {
            path: entry.path().to_path_buf(),
            relative,
        });
    }
    assert!(
        files
            .iter()
            .any(|file| file.relative == "xtask/tests/it/tidy.rs"),
        "the walk found the repository"
    );
    files
}

/// The lines of `text` that are code: not `//` comments. 1-based line numbers.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
}

/// Code lines before the first `#[cfg(test)]`: what is compiled into the binaries.
fn non_test_code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    code_lines(text).take_while(|(_, line)| line.trim() != "#[cfg(test)]")
}

/// Panics with every offender, one per line, when there are any.
fn assert_no_offenders(rule: &str, offenders: &[String]) {
    assert!(
        offenders.is_empty(),
        "{rule}; {} offender(s):\n  {}\n",
        offenders.len(),
        offenders.join("\n  ")
    );
}

#[test]
fn every_rust_file_starts_with_an_inner_doc_comment() {
    let offenders: Vec<String> = repository_files()
        .iter()
        .filter(|file| file.is_rust() && !file.text().starts_with("//!"))
        .map(|file| {
            format!(
                "{}:1: starts without a `//!` line saying what the file is for",
                file.relative
            )
        })
        .collect();
    assert_no_offenders("every .rs file starts with a `//!` comment", &offenders);
}

#[test]
fn only_the_engine_crate_knows_bollard() {
    let needles = [concat!("use bol", "lard"), concat!("bol", "lard::")];
    let files = repository_files();
    let mut offenders = Vec::new();
    for file in files
        .iter()
        .filter(|file| file.is_rust() && !file.relative.starts_with("crates/dockyard-engine/"))
    {
        let text = file.text();
        for (number, line) in code_lines(&text) {
            if needles.iter().any(|needle| line.contains(needle)) {
                offenders.push(format!("{}:{number}: {}", file.relative, line.trim()));
            }
        }
    }
    let mut engine_depends = false;
    for file in files
        .iter()
        .filter(|file| file.relative.ends_with("Cargo.toml"))
    {
        let text = file.text();
        if !text.lines().any(|line| line.trim() == "[package]") {
            continue; // The workspace manifest pins versions for everyone; only crate manifests depend.
        }
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            let key = concat!("bol", "lard");
            let depends = line
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with([' ', '=', '.']))
                || line.contains(concat!("dependencies.bol", "lard"));
            if !depends {
                continue;
            }
            if file.relative == "crates/dockyard-engine/Cargo.toml" {
                engine_depends = true;
            } else {
                offenders.push(format!("{}:{}: {line}", file.relative, number + 1));
            }
        }
    }
    assert_no_offenders(
        "the Docker API client is private to crates/dockyard-engine: add what you need to the engine crate instead",
        &offenders,
    );
    assert!(engine_depends, "crates/dockyard-engine/Cargo.toml no longer depends on the Docker API client; update this check");
}

#[test]
fn library_code_starts_no_processes_with_std() {
    let needles = [concat!("process::", "Command"), concat!("Command", "::new")];
    let mut offenders = Vec::new();
    for file in repository_files()
        .iter()
        .filter(|file| file.is_library_code())
    {
        let text = file.text();
        for (number, line) in non_test_code_lines(&text) {
            let uses_command = needles.iter().any(|needle| line.contains(needle))
                || (line.contains("process::{") && line.contains("Command"));
            if uses_command {
                offenders.push(format!("{}:{number}: {}", file.relative, line.trim()));
            }
        }
    }
    assert_no_offenders(
        "crates/*/src and xtask/src run external programs through duct (dockyard-base, dockyard-scan's runner, dockyard-release's git and credential helpers, dockyard-pipeline's provenance and doctor), never std::process::Command",
        &offenders,
    );
}

#[test]
fn library_code_never_runs_the_docker_cli() {
    let needle = concat!("\"dock", "er\"");
    let mut offenders = Vec::new();
    for file in repository_files()
        .iter()
        .filter(|file| file.is_library_code())
    {
        let text = file.text();
        for (number, line) in non_test_code_lines(&text) {
            if line.contains(needle) {
                offenders.push(format!("{}:{number}: {}", file.relative, line.trim()));
            }
        }
    }
    assert_no_offenders(
        "the engine is reached through its API (crates/dockyard-engine), not by running the docker program",
        &offenders,
    );
}

#[test]
fn no_trailing_whitespace() {
    let checked = |file: &RepoFile| {
        let name = file.relative.rsplit('/').next().unwrap_or_default();
        let by_extension = [".rs", ".toml", ".md", ".py", ".sh"]
            .iter()
            .any(|extension| name.ends_with(extension));
        let is_script = || std::fs::read(&file.path).is_ok_and(|bytes| bytes.starts_with(b"#!"));
        by_extension || name.ends_with("Dockerfile") || file.relative == ".ci/run" || is_script()
    };
    let mut offenders = Vec::new();
    for file in repository_files().iter().filter(|file| checked(file)) {
        for (index, line) in file.text().split('\n').enumerate() {
            if line.ends_with([' ', '\t', '\r']) {
                offenders.push(format!("{}:{}: {:?}", file.relative, index + 1, line));
            }
        }
    }
    assert_no_offenders(
        "no line ends in whitespace (spaces, tabs, or a CRLF line end)",
        &offenders,
    );
}

/// The `[package] name` of a Cargo.toml, and whether it says `[lints] workspace = true`.
fn manifest_name_and_lints(text: &str) -> (Option<String>, bool) {
    let mut section = String::new();
    let (mut name, mut lints) = (None, false);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (section.as_str(), key) {
            ("package", "name") => name = Some(value.trim_matches('"').to_owned()),
            ("lints", "workspace") | ("", "lints.workspace") => lints |= value == "true",
            ("", "lints") => lints |= value.replace(' ', "") == "{workspace=true}",
            _ => {}
        }
    }
    (name, lints)
}

#[test]
fn crate_folders_are_named_like_their_packages_and_use_the_workspace_lints() {
    let root = repository_root();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("read crates/")
        .map(|entry| entry.expect("read crates/").path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    assert!(!folders.is_empty(), "crates/ has crates");
    folders.push(root.join("xtask"));
    let mut offenders = Vec::new();
    for folder in folders {
        let relative = folder
            .strip_prefix(&root)
            .expect("below the root")
            .to_string_lossy()
            .replace('\\', "/");
        let manifest = folder.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            offenders.push(format!("{relative}/Cargo.toml: missing"));
            continue;
        };
        let (name, lints) = manifest_name_and_lints(&text);
        let folder_name = folder
            .file_name()
            .expect("a folder name")
            .to_string_lossy()
            .into_owned();
        match name {
            Some(name) if name == folder_name => {}
            Some(name) => offenders.push(format!(
                "{relative}/Cargo.toml: package `{name}` lives in folder `{folder_name}`"
            )),
            None => offenders.push(format!("{relative}/Cargo.toml: no [package] name")),
        }
        if !lints {
            offenders.push(format!(
                "{relative}/Cargo.toml: missing `[lints]` with `workspace = true`"
            ));
        }
    }
    assert_no_offenders(
        "every crate folder is named like its package and inherits the workspace lints",
        &offenders,
    );
}

#[test]
fn no_ignored_tests() {
    let (attribute, conditional) = (concat!("#[", "ignore"), concat!("cfg_", "attr"));
    let mut offenders = Vec::new();
    for file in repository_files().iter().filter(|file| file.is_rust()) {
        let text = file.text();
        for (number, line) in code_lines(&text) {
            let ignored =
                line.contains(attribute) || (line.contains(conditional) && line.contains("ignore"));
            if ignored {
                offenders.push(format!("{}:{number}: {}", file.relative, line.trim()));
            }
        }
    }
    assert_no_offenders(
        "tests are never ignored: fix the test, delete it, or make it skip itself with a printed reason when its prerequisite is missing",
        &offenders,
    );
}

/// The commands of the first code block after the heading containing "Quick start" in `readme`.
fn quick_start_commands(readme: &str) -> Result<Vec<String>, String> {
    let mut lines = readme
        .lines()
        .skip_while(|line| !(line.starts_with('#') && line.to_lowercase().contains("quick start")));
    if lines.next().is_none() {
        return Err("README.md has no heading containing \"Quick start\"".to_owned());
    }
    let mut lines = lines.skip_while(|line| !line.trim_start().starts_with("```"));
    if lines.next().is_none() {
        return Err("README.md's Quick start section has no ``` code block".to_owned());
    }
    let commands = lines
        .take_while(|line| !line.trim_start().starts_with("```"))
        .map(|line| line.trim().trim_start_matches("$ ").trim().to_owned())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    Ok(commands)
}

#[test]
#[allow(clippy::print_stderr, reason = "a skipped check says why")]
fn the_readme_test_command_is_what_ci_runs() {
    let root = repository_root();
    let (readme_path, ci_path) = (root.join("README.md"), root.join(".ci/run"));
    let (Ok(readme), Ok(ci)) = (
        std::fs::read_to_string(&readme_path),
        std::fs::read_to_string(&ci_path),
    ) else {
        eprintln!("skipped: README.md or .ci/run does not exist yet");
        return;
    };
    let commands = quick_start_commands(&readme).unwrap_or_else(|problem| panic!("{problem}"));
    let Some(test_command) = commands.get(1) else {
        panic!("README.md's Quick start block should have the test command as its second command; it has {commands:?}");
    };
    assert!(
        ci.contains(test_command.as_str()),
        "README.md's Quick start tells users to run `{test_command}`, but .ci/run does not run it verbatim; make them agree"
    );
}

#[test]
fn quick_start_commands_are_read_from_the_first_block_after_the_heading() {
    let readme = "# Dockyard\n\n```sh\nnot this\n```\n\n## Quick start\n\nText.\n\n```sh\n# a comment\n$ cargo xtask doctor\n\ncargo test --workspace\n```\n\n```\nlater\n```\n";
    assert_eq!(
        quick_start_commands(readme).unwrap(),
        ["cargo xtask doctor", "cargo test --workspace"]
    );
    assert!(quick_start_commands("# Dockyard\n").is_err());
    let manifest = "[package]\nname = \"dockyard-x\"\n\n[lints]\nworkspace = true\n";
    assert_eq!(
        manifest_name_and_lints(manifest),
        (Some("dockyard-x".to_owned()), true)
    );
    assert_eq!(
        manifest_name_and_lints("[package]\nname = \"y\"\n[dependencies]\nworkspace = true\n"),
        (Some("y".to_owned()), false)
    );
}

/// The upstream copy of the real-world corpus: `shared/realworld/` in the nearest folder above the repository that
/// has one (`../shared/realworld/` for a clone beside it), `None` when no such folder exists.
fn upstream_corpus() -> Option<PathBuf> {
    repository_root()
        .ancestors()
        .skip(1)
        .map(|folder| folder.join("shared/realworld"))
        .find(|candidate| candidate.is_dir())
}

/// Every file below `folder`, dot-files included and nothing skipped: relative path with `/` -> (bytes, executable).
fn tree_files(folder: &Path) -> std::collections::BTreeMap<String, (Vec<u8>, bool)> {
    let mut files = std::collections::BTreeMap::new();
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let entry = entry.unwrap_or_else(|error| panic!("walk {}: {error}", folder.display()));
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(folder)
            .expect("walked below the folder")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = if entry.file_type().is_symlink() {
            let target = std::fs::read_link(entry.path()).expect("read a link");
            format!("symlink -> {}", target.display()).into_bytes()
        } else {
            std::fs::read(entry.path()).unwrap_or_else(|error| panic!("read {relative}: {error}"))
        };
        files.insert(relative, (bytes, is_executable(entry.path())));
    }
    files
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

#[test]
#[allow(clippy::print_stderr, reason = "a skipped check says why")]
fn corpus_copies_are_byte_identical_to_upstream() {
    let Some(upstream) = upstream_corpus() else {
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            panic!("CI=true but ../shared/realworld/ is missing: the corpus in examples/ cannot be compared with upstream");
        }
        eprintln!("SKIPPED corpus_copies_are_byte_identical_to_upstream: no ../shared/realworld/ beside the repository");
        return;
    };
    let examples = repository_root().join("examples");
    let mut offenders = Vec::new();
    let mut compared = 0;
    let mut names: Vec<String> = std::fs::read_dir(&upstream)
        .expect("read the upstream corpus")
        .map(|entry| {
            entry
                .expect("read the upstream corpus")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    for entry in std::fs::read_dir(&examples).expect("read examples/") {
        let name = entry
            .expect("read examples/")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !OWN_ENTRIES_IN_EXAMPLES.contains(&name.as_str()) && !names.contains(&name) {
            offenders.push(format!("examples/{name}: not in {}", upstream.display()));
        }
    }
    for name in &names {
        let (ours, theirs) = (examples.join(name), upstream.join(name));
        let (ours, theirs) = if theirs.is_dir() {
            (tree_files(&ours), tree_files(&theirs))
        } else {
            let read = |path: &Path| std::fs::read(path).unwrap_or_default();
            let single = |path: &Path| {
                std::collections::BTreeMap::from([(
                    String::new(),
                    (read(path), is_executable(path)),
                )])
            };
            (
                if ours.is_file() {
                    single(&ours)
                } else {
                    Default::default()
                },
                single(&theirs),
            )
        };
        let path = |relative: &str| {
            if relative.is_empty() {
                format!("examples/{name}")
            } else {
                format!("examples/{name}/{relative}")
            }
        };
        for (relative, (bytes, executable)) in &theirs {
            compared += 1;
            match ours.get(relative) {
                None => offenders.push(format!("{}: missing", path(relative))),
                Some((ours, _)) if ours != bytes => {
                    offenders.push(format!("{}: differs from upstream", path(relative)))
                }
                Some((_, ours)) if ours != executable => {
                    offenders.push(format!(
                        "{}: executable bit differs from upstream",
                        path(relative)
                    ));
                }
                Some(_) => {}
            }
        }
        for relative in ours
            .keys()
            .filter(|relative| !theirs.contains_key(*relative))
        {
            offenders.push(format!("{}: not upstream", path(relative)));
        }
    }
    assert!(
        compared > 1000,
        "compared only {compared} files with {}",
        upstream.display()
    );
    assert_no_offenders(
        "examples/ holds the real-world projects exactly as upstream has them; a project that needs a change gets it in examples/overlays/, never in its own files",
        &offenders,
    );
}

#[test]
fn xtask_decides_no_step_and_no_gate() {
    // The executor in crates/dockyard-pipeline owns the order of steps and the gates; xtask maps flags to a Goal
    // and renders the Report. These names only appear where a pipeline is being walked or a gate applied.
    let forbidden = [
        "Step::",
        "Stage",
        "run::",
        "with_cleanup",
        "scan::scan",
        "smoke::smoke",
        "release::publish",
        "release::preflight",
        "passed()",
        "vulnerability_scan_not_run",
        "ensure_base",
        "build_production",
    ];
    let mut offenders = Vec::new();
    for file in repository_files()
        .iter()
        .filter(|file| file.relative.starts_with("xtask/src/") && file.is_rust())
    {
        let text = file.text();
        for (number, line) in non_test_code_lines(&text) {
            for needle in forbidden.iter().filter(|needle| line.contains(*needle)) {
                offenders.push(format!(
                    "{}:{number}: `{needle}` in {}",
                    file.relative,
                    line.trim()
                ));
            }
        }
    }
    assert_no_offenders(
        "xtask maps flags to a dockyard_pipeline::Goal and renders the Report; steps and gates belong to the executor",
        &offenders,
    );
}

/// The test a RELIABILITY.md row names, as the last `::` segment of its backticked last cell.
fn reliability_row_test(line: &str) -> Option<&str> {
    let last_cell = line
        .trim_end()
        .strip_suffix('|')?
        .rsplit(" | ")
        .next()?
        .trim();
    let path = last_cell.strip_prefix('`')?.strip_suffix('`')?;
    path.rsplit("::").next().filter(|name| !name.is_empty())
}

/// A record left in `target/reliability/` by a test since renamed or removed keeps its row in a locally
/// regenerated RELIABILITY.md, and a fresh clone's `reliability --check` then fails on it: every row must
/// name a test that still exists in the repository's Rust code (as a whole word, so `broken_case!` names count).
#[test]
fn every_reliability_row_names_a_test_that_exists() {
    let root = repository_root();
    let markdown =
        std::fs::read_to_string(root.join("RELIABILITY.md")).expect("read RELIABILITY.md");
    let rust: Vec<String> = repository_files()
        .iter()
        .filter(|file| file.is_rust() && file.relative != "xtask/tests/it/tidy.rs")
        .map(RepoFile::text)
        .collect();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mentioned = |name: &str| {
        rust.iter().any(|text| {
            text.match_indices(name).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + name.len()..].chars().next();
                !before.is_some_and(is_word) && !after.is_some_and(is_word)
            })
        })
    };
    let mut rows = 0;
    let mut offenders = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let Some(name) = line
            .starts_with("| ")
            .then(|| reliability_row_test(line))
            .flatten()
        else {
            continue;
        };
        rows += 1;
        if !mentioned(name) {
            offenders.push(format!("RELIABILITY.md:{}: `{name}` is no test of the repository (hint: remove its record from target/reliability/ and run `cargo xtask reliability`)", index + 1));
        }
    }
    assert!(rows > 100, "read the rows of RELIABILITY.md (found {rows})");
    assert_no_offenders(
        "every RELIABILITY.md row names an existing test",
        &offenders,
    );
}
