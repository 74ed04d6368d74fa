//! The real-world corpus: `cargo xtask init` then `plan`, and with an engine `check`, on a copy of each project in
//! `examples/`, with the marks of `examples/corpus.toml` saying which cannot pass yet and why, and the overlays of
//! `examples/overlays/`.
#![allow(
    clippy::disallowed_methods,
    reason = "the corpus tests run the xtask binary as a user would"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{stderr, stdout, workspace_root};

/// One project's entry in `examples/corpus.toml`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Mark {
    /// Why the project cannot pass `plan` yet, when it cannot.
    blocked: Option<Blocked>,
    /// Why the project, passing `plan`, cannot pass `check` yet, when it cannot.
    check_blocked: Option<Blocked>,
}

/// A project that cannot pass yet.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Blocked {
    /// Why, in words.
    reason: String,
    /// A fragment of the error the command must still refuse the project with.
    message: String,
}

fn marks() -> BTreeMap<String, Mark> {
    let path = workspace_root().join("examples/corpus.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    toml::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A writable copy of `examples/<name>` in a temporary folder, under its own name (init names the project after it).
fn copy_project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let source = workspace_root().join("examples").join(name);
    let temp = tempfile::Builder::new()
        .prefix("dockyard-corpus-")
        .tempdir()
        .unwrap();
    let destination = temp.path().join(name);
    for entry in walkdir::WalkDir::new(&source) {
        let entry = entry.unwrap();
        let target = destination.join(entry.path().strip_prefix(&source).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
    (temp, destination)
}

fn xtask(args: &[&std::ffi::OsStr]) -> Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .env(
            dockyard_tools::TOOLS_DIR_ENV,
            crate::support::shared_tools_dir(),
        )
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "--- xtask {args:?} (exit {:?})\n{}{}",
        output.status.code(),
        stdout(&output),
        stderr(&output)
    );
    output
}

/// One `[[edit]]` of an overlay.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    table: String,
    key: String,
    value: toml::Value,
    why: String,
}

/// One `[[append]]` of an overlay: TOML added at the end of the file (an array-of-tables entry such as a
/// `[[smoke.check]]`, which `[[edit]]` cannot express).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Append {
    text: String,
    why: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Overlay {
    #[serde(default)]
    edit: Vec<Edit>,
    #[serde(default)]
    append: Vec<Append>,
}

/// `generated` with each edit of `overlay` applied: the key's line replaced, or added at the end of its table (the
/// table added at the end of the file when missing), each under a comment giving the overlay's reason.
fn apply_overlay(generated: &str, overlay: &str, source: &str) -> String {
    let overlay: Overlay =
        toml::from_str(overlay).unwrap_or_else(|error| panic!("{source}: {error}"));
    let mut lines: Vec<String> = generated.lines().map(str::to_owned).collect();
    for edit in overlay.edit {
        let comment = format!("# {source}: {}", edit.why);
        let assignment = format!("{} = {}", edit.key, edit.value);
        let header = format!("[{}]", edit.table);
        let Some(start) = lines.iter().position(|line| line.trim() == header) else {
            lines.extend([String::new(), header, comment, assignment]);
            continue;
        };
        let end = lines[start + 1..]
            .iter()
            .position(|line| line.trim_start().starts_with('['))
            .map_or(lines.len(), |offset| start + 1 + offset);
        let existing = (start + 1..end).find(|index| {
            lines[*index]
                .split_once('=')
                .is_some_and(|(key, _)| key.trim() == edit.key)
        });
        match existing {
            Some(index) => lines.splice(index..=index, [comment, assignment]),
            None => {
                let last = (start..end)
                    .rev()
                    .find(|index| !lines[*index].trim().is_empty())
                    .unwrap_or(start);
                lines.splice(last + 1..last + 1, [comment, assignment])
            }
        };
    }
    for append in overlay.append {
        lines.push(String::new());
        lines.push(format!("# {source}: {}", append.why));
        lines.extend(append.text.lines().map(str::to_owned));
    }
    lines.join("\n") + "\n"
}

/// A copy of `examples/<name>` with the deploy.toml `init` writes and the overlay's edits, and that file's text.
fn prepare(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    let (temp, project) = copy_project(name);
    let init = xtask(&["init".as_ref(), project.as_os_str()]);
    assert_eq!(
        init.status.code(),
        Some(0),
        "init {name} failed:\n{}",
        stderr(&init)
    );
    let deploy = project.join("deploy.toml");
    let generated = std::fs::read_to_string(&deploy).unwrap();
    let overlay_path = workspace_root()
        .join("examples/overlays")
        .join(format!("{name}.toml"));
    if let Ok(overlay) = std::fs::read_to_string(&overlay_path) {
        let source = format!("examples/overlays/{name}.toml");
        std::fs::write(&deploy, apply_overlay(&generated, &overlay, &source)).unwrap();
    }
    let written = std::fs::read_to_string(&deploy).unwrap();
    (temp, project, written)
}

fn mark(name: &str) -> Mark {
    marks()
        .remove(name)
        .unwrap_or_else(|| panic!("examples/corpus.toml has no [{name}] table"))
}

/// Runs init and plan on a copy of `examples/<name>` and holds the result to its mark in `examples/corpus.toml`.
fn check(name: &str) {
    let mark = mark(name);
    let (_temp, project, written) = prepare(name);
    let deploy = project.join("deploy.toml");
    let plan = xtask(&["--config".as_ref(), deploy.as_os_str(), "plan".as_ref()]);
    let Some(blocked) = &mark.blocked else {
        assert_eq!(
            plan.status.code(),
            Some(0),
            "{name} must pass plan (examples/corpus.toml does not mark it blocked):\n{}\n{written}",
            stderr(&plan)
        );
        return;
    };
    assert_ne!(
        plan.status.code(),
        Some(0),
        "{name} passes plan now: remove its `blocked` mark from examples/corpus.toml ({})",
        blocked.reason
    );
    let error = stderr(&plan);
    assert!(
        plan.status.code() == Some(3) && error.contains(&blocked.message),
        "{name} should fail plan (exit 3) with `{}` ({}); it fails otherwise:\n{error}",
        blocked.message,
        blocked.reason
    );
}

/// The CA bundle the builder and the Node container trust: the host's, so PyPI and npm are reached through the
/// TLS proxy of the machine running the tests (a team's deploy.toml would name its own `[builder] ca_bundle`).
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// With an engine, runs `cargo xtask check` (build, smoke through nginx with its services) on the prepared copy of
/// `examples/<name>`, once, and holds the result to its mark; a project blocked at plan is left to [`check`].
fn check_builds(name: &str) {
    let mark = mark(name);
    if let Some(blocked) = &mark.blocked {
        // Refused at plan, so check stops there too, before any engine work: the same exit code and message.
        let (_temp, project, _) = prepare(name);
        let deploy = project.join("deploy.toml");
        let check = xtask(&["--config".as_ref(), deploy.as_os_str(), "check".as_ref()]);
        let error = stderr(&check);
        assert!(
            check.status.code() == Some(3) && error.contains(&blocked.message),
            "{name} is blocked at plan ({}): check must refuse it the same way (exit 3, `{}`):\n{error}",
            blocked.reason,
            blocked.message
        );
        return;
    }
    let Some((engine, _guard)) = crate::support::engine_or_skip(&format!("corpus {name} check"))
    else {
        return;
    };
    let (_temp, project, written) = prepare(name);
    let deploy = project.join("deploy.toml");
    let command = |subcommand: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .env(
                dockyard_tools::TOOLS_DIR_ENV,
                crate::support::shared_tools_dir(),
            )
            .arg("--config")
            .arg(&deploy)
            .arg(subcommand)
            .env_remove("SOURCE_DATE_EPOCH");
        if Path::new(HOST_CA_BUNDLE).is_file() {
            command.env("DOCKYARD_CA_BUNDLE", HOST_CA_BUNDLE);
        }
        command
    };
    let started = std::time::Instant::now();
    let output = command("check").output().unwrap();
    let cold_seconds = started.elapsed().as_secs_f64();
    let error = stderr(&output);
    eprintln!(
        "--- xtask check {name} (exit {:?}, {cold_seconds:.0} s)\n{}{}",
        output.status.code(),
        stdout(&output),
        crate::support::tail(&error, 120)
    );
    let leftovers = crate::support::runtime()
        .block_on(engine.find_labelled(&[
            dockyard_engine::RUN_LABEL,
            &format!("{}={name}", dockyard_engine::PROJECT_LABEL),
        ]))
        .unwrap();
    assert!(
        leftovers.is_empty(),
        "{name}: check left {leftovers:?} behind"
    );
    match &mark.check_blocked {
        None => {
            assert_eq!(
                output.status.code(),
                Some(0),
                "{name} must pass check (examples/corpus.toml does not mark it check_blocked):\n{}\n{written}",
                crate::support::tail(&error, 40)
            );
            let report = project.join(format!("target/dockyard/{name}-smoke.json"));
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
            let checks = report["checks"].as_array().expect("smoke checks");
            let through_nginx = checks
                .iter()
                .filter(|check| check["group"] == "static")
                .count();
            assert!(
                through_nginx >= 2,
                "{name}: smoke read the page and its static files through nginx: {checks:?}"
            );
            // Nothing changed since: a build runs no step, and the plan agrees.
            let started = std::time::Instant::now();
            let again = command("build").output().unwrap();
            let seconds = started.elapsed().as_secs_f64();
            let log = stderr(&again);
            assert_eq!(again.status.code(), Some(0), "{name}: no-op build:\n{log}");
            for step in ["builder image", "export", "production image", "nginx image"] {
                assert!(
                    log.contains(&format!("{step}: skipped")),
                    "{name}: the no-op build ran `{step}`:\n{log}"
                );
            }
            eprintln!("--- {name}: cold check {cold_seconds:.0} s, no-op build {seconds:.2} s");
        }
        Some(blocked) => {
            assert_ne!(
                output.status.code(),
                Some(0),
                "{name} passes check now: remove its `check_blocked` mark from examples/corpus.toml ({})",
                blocked.reason
            );
            assert!(
                error.contains(&blocked.message),
                "{name} should fail check with `{}` ({}); it fails otherwise:\n{}",
                blocked.message,
                blocked.reason,
                crate::support::tail(&error, 40)
            );
        }
    }
}

#[test]
fn wagtail_guide() {
    check("wagtail-guide");
}

#[test]
fn wagtail_guide_check() {
    check_builds("wagtail-guide");
}

#[test]
fn docker_django_example() {
    check("docker-django-example");
}

#[test]
fn docker_django_example_check() {
    check_builds("docker-django-example");
}

#[test]
fn djangonaut_space() {
    check("djangonaut-space");
}

#[test]
fn djangonaut_space_check() {
    check_builds("djangonaut-space");
}

#[test]
fn styleguide_example() {
    check("styleguide-example");
}

#[test]
fn styleguide_example_check() {
    check_builds("styleguide-example");
}

#[test]
fn every_project_in_examples_has_a_mark_and_a_test() {
    let own = ["corpus.toml", "overlays", "README.md"];
    let mut projects: Vec<String> = std::fs::read_dir(workspace_root().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !own.contains(&name.as_str()))
        .collect();
    projects.sort();
    let marked: Vec<String> = marks().into_keys().collect();
    assert_eq!(
        projects, marked,
        "examples/corpus.toml lists every project folder of examples/, and only those"
    );
    let tests =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/corpus.rs"))
            .unwrap();
    for project in &projects {
        assert!(
            tests.contains(&format!("check(\"{project}\")")),
            "xtask/tests/it/corpus.rs has no test calling check(\"{project}\")"
        );
    }
    for overlay in std::fs::read_dir(workspace_root().join("examples/overlays")).unwrap() {
        let name = overlay.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(project) = name.strip_suffix(".toml") {
            assert!(
                projects.iter().any(|known| known == project),
                "examples/overlays/{name} names no project"
            );
        }
    }
}

#[test]
fn overlays_replace_or_add_keys_with_their_reason() {
    let generated =
        "[project]\nname = \"x\"\n\n[app]\npath = \".\"\nport = 8000\n\n[assets]\npath = \".\"\n";
    let check = |overlay: &str, expected: &str| {
        assert_eq!(
            apply_overlay(generated, overlay, "o.toml"),
            expected,
            "{overlay}"
        );
    };
    check(
        "[[edit]]\ntable = \"app\"\nkey = \"port\"\nvalue = 5000\nwhy = \"gunicorn.conf.py binds 5000\"\n",
        "[project]\nname = \"x\"\n\n[app]\npath = \".\"\n# o.toml: gunicorn.conf.py binds 5000\nport = 5000\n\n[assets]\npath = \".\"\n",
    );
    check(
        "[[edit]]\ntable = \"app\"\nkey = \"health_path\"\nvalue = \"/up/\"\nwhy = \"routed in up/urls.py\"\n",
        "[project]\nname = \"x\"\n\n[app]\npath = \".\"\nport = 8000\n# o.toml: routed in up/urls.py\nhealth_path = \"/up/\"\n\n[assets]\npath = \".\"\n",
    );
    check(
        "[[edit]]\ntable = \"smoke\"\nkey = \"startup_timeout_seconds\"\nvalue = 30\nwhy = \"starts fast\"\n",
        "[project]\nname = \"x\"\n\n[app]\npath = \".\"\nport = 8000\n\n[assets]\npath = \".\"\n\n[smoke]\n# o.toml: starts fast\nstartup_timeout_seconds = 30\n",
    );
    check(
        "[[append]]\ntext = \"[[smoke.check]]\\nname = \\\"up\\\"\\npath = \\\"/up/\\\"\"\nwhy = \"routed\"\n",
        "[project]\nname = \"x\"\n\n[app]\npath = \".\"\nport = 8000\n\n[assets]\npath = \".\"\n\n# o.toml: routed\n[[smoke.check]]\nname = \"up\"\npath = \"/up/\"\n",
    );
}

#[test]
fn init_refuses_a_folder_without_django_and_an_existing_deploy_toml_with_exit_3() {
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("README.md"), "not django\n").unwrap();
    let (_temp, project) = copy_project("styleguide-example");
    std::fs::write(project.join("deploy.toml"), "# mine\n").unwrap();
    let cases = [
        (
            empty.path(),
            "no manage.py in",
            "hint: give the folder holding manage.py",
        ),
        (
            project.as_path(),
            "already exists; init never overwrites it",
            "hint: edit the existing deploy.toml",
        ),
    ];
    for (folder, message, hint) in cases {
        let output = xtask(&["init".as_ref(), folder.as_os_str()]);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(3), "{error}");
        assert!(
            error.starts_with("error: ") && error.contains(message) && error.contains(hint),
            "{error}"
        );
    }
    assert!(!empty.path().join("deploy.toml").exists());
    assert_eq!(
        std::fs::read_to_string(project.join("deploy.toml")).unwrap(),
        "# mine\n"
    );
}
