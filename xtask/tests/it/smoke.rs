//! `cargo xtask smoke` on a real engine: the sample passes; broken variants (health 503, a missing static file,
//! an image running as root, a crash at start) each fail with a precise message and leave nothing behind.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the xtask binary and interrupts it, which needs the child's handle"
)]

use dockyard_engine::{Engine, PROJECT_LABEL, RUN_LABEL};

use crate::support::{engine_or_skip, runtime, stderr, stdout, Project};

/// Removes the project's images and its dependencies volumes (the next export installs the locked set again).
pub(crate) fn cleanup_images(engine: &Engine, project: &Project) {
    runtime().block_on(async {
        // A [matrix] Python's builder and dependencies carry its short name (`py313`).
        for suffix in ["", "-builder", "-nginx", "-builder-py313"] {
            let _ = engine
                .remove_image(&format!("{}{suffix}:latest", project.name))
                .await;
        }
        let project_label = format!("dev.dockyard.project={}", project.name);
        for cache in ["dependencies", "dependencies-py313"] {
            let cache_label = format!("dev.dockyard.cache={cache}");
            if let Ok(mut volumes) = engine.find_labelled(&[&project_label, &cache_label]).await {
                volumes.containers.clear();
                volumes.networks.clear();
                let _ = engine.remove_leftovers(&volumes).await;
            }
        }
    });
}

pub(crate) fn edit(project: &Project, relative: &str, from: &str, to: &str) {
    let path = project.path(relative);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(from),
        "{relative} no longer contains `{from}`: update the test"
    );
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Broken variants skip the app's own tests (they would catch some of the breakage before smoke does).
pub(crate) fn without_app_tests(project: &Project) {
    edit(
        project,
        "deploy.toml",
        "test_command = [",
        "test_command = [\"true\"]\nold_test_command_unused = [",
    );
    let deploy = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
    let cleaned: Vec<&str> = deploy
        .lines()
        .filter(|line| !line.starts_with("old_test_command_unused"))
        .collect();
    std::fs::write(project.path("deploy.toml"), cleaned.join("\n") + "\n").unwrap();
}

/// Builds and smoke-tests a broken variant; asserts exit code 9 and that the named check failed with `actual`,
/// nothing is left and `clean` finds nothing. Returns the failed check's line and its `actual:` line.
fn assert_smoke_fails(
    engine: &Engine,
    project: &Project,
    failed_check: &str,
    actual: &str,
) -> (String, String) {
    let build = project.xtask(&["build"]);
    assert_eq!(
        build.status.code(),
        Some(0),
        "the broken variant should still build:\n{}",
        stderr(&build)
    );
    let smoke = project.xtask(&["smoke"]);
    let out = stdout(&smoke);
    assert_eq!(
        smoke.status.code(),
        Some(9),
        "smoke must fail with SMOKE_FAILED (9):\n{out}\n{}",
        stderr(&smoke)
    );
    let failure = out
        .lines()
        .position(|line| line.starts_with("FAIL") && line.contains(failed_check));
    let Some(failure) = failure else {
        panic!("expected the check `{failed_check}` to fail:\n{out}");
    };
    let details: String = out
        .lines()
        .skip(failure + 1)
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        details.contains("expected:") && details.contains(actual),
        "expected `actual: ...{actual}...` under `{failed_check}`:\n{out}"
    );
    assert!(
        stderr(&smoke).contains("--- last"),
        "the containers' logs should be shown on failure:\n{}",
        stderr(&smoke)
    );
    crate::faults::assert_nothing_left_and_clean_finds_nothing(engine, project);
    cleanup_images(engine, project);
    let actual_line = details
        .lines()
        .find(|line| line.trim_start().starts_with("actual:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    (out.lines().nth(failure).unwrap().to_owned(), actual_line)
}

/// How long the check whose name starts with `name` took, from the project's smoke report.
fn check_duration_ms(project: &Project, name: &str) -> u64 {
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-smoke.json", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no check `{name}` in {report}"))["duration_ms"]
        .as_u64()
        .unwrap()
}

#[test]
fn smoke_passes_on_the_sample_app_and_writes_reports() {
    let Some((engine, _lock)) = engine_or_skip("smoke_passes_on_the_sample_app_and_writes_reports")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke");
    let output = project.xtask(&["smoke"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}\n{}", stderr(&output));
    assert!(
        out.lines().any(|line| line.ends_with("passed, 0 failed")),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");

    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-smoke.json", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 20, "{report}");
    assert!(
        checks.iter().all(|check| check["passed"] == true),
        "{report}"
    );
    for group in [
        "lifecycle",
        "declared",
        "static",
        "nginx",
        "structure app",
        "structure nginx",
    ] {
        assert!(
            checks.iter().any(|check| check["group"] == group),
            "no `{group}` checks in {report}"
        );
    }
    let junit = std::fs::read_to_string(
        project.path(&format!("target/dockyard/{}-smoke.junit.xml", project.name)),
    )
    .unwrap();
    assert!(
        junit.contains("<testsuite") && junit.contains("failures=\"0\""),
        "{junit}"
    );
    // The scan gate runs first; a vulnerability scan that could not run is recorded, never silent.
    let notes: Vec<String> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|note| note.as_str().unwrap().to_owned())
        .collect();
    if out.contains("vulnerability scan not run") {
        assert!(
            notes
                .iter()
                .any(|note| note.starts_with("vulnerability scan not run for app")),
            "{notes:?}"
        );
    }
    if notes.iter().any(|note| note.starts_with("scan not run")) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the scan: {notes:?}"
        );
    } else {
        assert!(
            out.contains("findings over policy"),
            "the scan table should precede the smoke table:\n{out}"
        );
    }
    let healthy_ms = report["start_to_healthy_ms"].as_u64().unwrap();
    eprintln!(
        "smoke: start to healthy {healthy_ms} ms, whole smoke {} ms",
        report["total_ms"]
    );
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup_images(&engine, &project);
}

#[test]
fn smoke_fails_precisely_when_health_answers_503() {
    let Some((engine, _lock)) = engine_or_skip("smoke_fails_precisely_when_health_answers_503")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke-503");
    without_app_tests(&project);
    edit(
        &project,
        "app/sample/health.py",
        "cursor.execute(\"SELECT 1\")",
        "cursor.execute(\"SELECT * FROM planted_missing_table\")",
    );
    // A short startup deadline, which must hold: the check gives up after it, not much later.
    edit(
        &project,
        "deploy.toml",
        "startup_timeout_seconds = 90",
        "startup_timeout_seconds = 15",
    );
    let (check, actual) = assert_smoke_fails(&engine, &project, "app becomes healthy", "HTTP 503");
    let waited_ms = check_duration_ms(&project, "app becomes healthy");
    // One probe may start just before the deadline and take its own 5 s timeout.
    assert!(
        (15_000..=15_000 + 7_000).contains(&waited_ms),
        "the 15 s startup deadline did not hold: waited {waited_ms} ms"
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "app_never_healthy",
        "/health/ always answers 503 (its database query names a missing table); startup_timeout_seconds = 15",
        &format!("exit 9, `{}`, `{actual}`, given up after {waited_ms} ms (deadline 15 s); nothing left, clean: nothing to clean", check.split("  (").next().unwrap().trim()),
        "xtask::smoke::smoke_fails_precisely_when_health_answers_503",
    );
}

#[test]
fn smoke_fails_precisely_when_a_static_file_is_missing() {
    let Some((engine, _lock)) =
        engine_or_skip("smoke_fails_precisely_when_a_static_file_is_missing")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke-static").with_own_templates();
    without_app_tests(&project);
    edit(
        &project,
        "docker/nginx.Dockerfile",
        "COPY static/ /srv/static/",
        "COPY static/ /srv/static/\nRUN rm /srv/static/notes/logo.*.svg",
    );
    assert_smoke_fails(&engine, &project, "/static/notes/logo.", "HTTP 404");
    // The image's files no longer match the static files the export recorded on its label.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-smoke.json", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    let served = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "nginx serves the files collectstatic wrote")
        .unwrap_or_else(|| panic!("no static files check in {report}"));
    assert_eq!(served["passed"], false, "{served}");
    assert!(
        served["actual"]
            .as_str()
            .unwrap()
            .contains("; the label says sha256:"),
        "{served}"
    );
}

#[test]
fn smoke_gives_up_at_once_when_the_app_refuses_the_host() {
    let Some((engine, _lock)) =
        engine_or_skip("smoke_gives_up_at_once_when_the_app_refuses_the_host")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke-host");
    without_app_tests(&project);
    // A Host the app's ALLOWED_HOSTS (DJANGO_ALLOWED_HOSTS plus localhost) does not list: Django answers 400 to every
    // request, which no amount of waiting changes.
    edit(
        &project,
        "deploy.toml",
        "host = \"localhost\"",
        "host = \"shop.invalid\"",
    );
    let (check, actual) = assert_smoke_fails(&engine, &project, "app becomes healthy", "HTTP 400");
    assert!(
        actual.contains("shop.invalid") && actual.contains("gave up at once"),
        "{actual}"
    );
    let waited_ms = check_duration_ms(&project, "app becomes healthy");
    // Far inside the 90 s startup timeout: the first answer decides.
    assert!(
        waited_ms < 30_000,
        "the refusal should end the wait at once: waited {waited_ms} ms"
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "app_refuses_smoke_host",
        "[smoke] host = \"shop.invalid\", a name the app's ALLOWED_HOSTS does not list: Django answers 400",
        &format!("exit 9, `{}`, `{actual}`, after {waited_ms} ms (startup timeout 90 s), with the body and a hint on ALLOWED_HOSTS; nothing left, clean: nothing to clean", check.split("  (").next().unwrap().trim()),
        "xtask::smoke::smoke_gives_up_at_once_when_the_app_refuses_the_host",
    );
}

#[test]
fn smoke_fails_on_debug_and_on_a_deployment_warning_not_accepted() {
    let Some((engine, _lock)) =
        engine_or_skip("smoke_fails_on_debug_and_on_a_deployment_warning_not_accepted")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke-django-checks");
    without_app_tests(&project);
    // DEBUG on in the runtime environment, and SECURE_SSL_REDIRECT's warning no longer accepted.
    edit(
        &project,
        "deploy.toml",
        "DJANGO_SECURE_SSL_REDIRECT = \"false\"",
        "DJANGO_SECURE_SSL_REDIRECT = \"false\"\nDJANGO_DEBUG = \"true\"",
    );
    let text = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
    let silence = text
        .lines()
        .find(|line| line.starts_with("\"security.W008\""))
        .expect("the sample accepts security.W008")
        .to_owned();
    edit(&project, "deploy.toml", &silence, "");
    let (check, actual) = assert_smoke_fails(&engine, &project, "DEBUG is off", "DEBUG = True");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-smoke.json", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    let deploy_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "manage.py check --deploy")
        .expect("the deployment checks ran");
    assert_eq!(deploy_check["passed"], false, "{deploy_check}");
    // DEBUG on also turns off the sample's secure cookies (security.W016); security.W018 is the DEBUG check's own.
    let named = deploy_check["actual"].as_str().unwrap();
    assert!(
        named.contains("security.W008") && !named.contains("security.W018"),
        "{deploy_check}"
    );
    assert!(
        deploy_check["detail"]
            .as_str()
            .unwrap()
            .contains("[smoke.silence] \"security."),
        "with the way to accept it: {deploy_check}"
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "debug_on_and_deployment_warning",
        "DJANGO_DEBUG = \"true\" in [app.env], and the sample's [smoke.silence] entry for security.W008 removed",
        &format!("exit 9, `{}`, `{actual}`, and `manage.py check --deploy` failing with security.W008 and the [smoke.silence] hint; nothing left, clean: nothing to clean", check.split("  (").next().unwrap().trim()),
        "xtask::smoke::smoke_fails_on_debug_and_on_a_deployment_warning_not_accepted",
    );
}

#[test]
fn smoke_fails_precisely_when_the_image_runs_as_root() {
    let Some((engine, _lock)) = engine_or_skip("smoke_fails_precisely_when_the_image_runs_as_root")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke-root").with_own_templates();
    without_app_tests(&project);
    edit(
        &project,
        "docker/production.Dockerfile",
        "USER {{ user }}:{{ user }}",
        "USER 0:0",
    );
    assert_smoke_fails(&engine, &project, "non-root user", "0:0");
}

#[test]
fn smoke_fails_precisely_when_the_app_crashes_at_start() {
    let Some((engine, _lock)) =
        engine_or_skip("smoke_fails_precisely_when_the_app_crashes_at_start")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-smoke-crash");
    without_app_tests(&project);
    edit(
        &project,
        "deploy.toml",
        "wsgi = \"sample.wsgi:application\"",
        "wsgi = \"sample.wsgi:planted_missing_callable\"",
    );
    let (check, actual) = assert_smoke_fails(
        &engine,
        &project,
        "app starts and stays up",
        "exited with code",
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "app_crashes_at_start",
        "deploy.toml names a WSGI callable that does not exist: gunicorn exits at once, every start",
        &format!("exit 9, `{}`, `{actual}`, with the app's log tail; nothing left, clean: nothing to clean", check.split("  (").next().unwrap().trim()),
        "xtask::smoke::smoke_fails_precisely_when_the_app_crashes_at_start",
    );
}

#[test]
fn run_executes_a_one_off_command_with_the_smoke_environment_and_passes_its_exit_code() {
    let Some((engine, _lock)) = engine_or_skip(
        "run_executes_a_one_off_command_with_the_smoke_environment_and_passes_its_exit_code",
    ) else {
        return;
    };
    let project = Project::copy("dockyard-it-run");
    // A management command against the migrated database, through the production image's own entry point.
    let seeded = project.xtask(&[
        "run",
        "--",
        "python",
        "manage.py",
        "seed_notes",
        "--count",
        "2",
    ]);
    assert_eq!(seeded.status.code(), Some(0), "{}", stderr(&seeded));
    assert_eq!(
        stdout(&seeded).trim(),
        "Created 2 note(s).",
        "stdout holds the command's output only"
    );
    // The container runs as the image's non-root user with the environment from deploy.toml, and its exit code is ours.
    let script = "import os, sys; print(os.getuid(), os.environ['DATABASE_URL']); sys.exit(7)";
    let failed = project.xtask(&["run", "--", "python", "-c", script]);
    assert_eq!(failed.status.code(), Some(7), "{}", stderr(&failed));
    assert_eq!(
        stdout(&failed).trim(),
        "10001 sqlite:////data/dockyard-sample.sqlite3"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup_images(&engine, &project);
}

#[test]
fn clean_removes_what_a_killed_smoke_run_left_behind() {
    use std::io::{BufRead, BufReader};
    let Some((engine, _lock)) = engine_or_skip("clean_removes_what_a_killed_smoke_run_left_behind")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-killed");
    let build = project.xtask(&["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .env(
            dockyard_tools::TOOLS_DIR_ENV,
            crate::support::shared_tools_dir(),
        )
        .arg("--config")
        .arg(project.path("deploy.toml"))
        .arg("smoke")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines {
        if line.unwrap().contains("app container started") {
            break;
        }
    }
    // SIGKILL: the run gets no chance to clean up, as when a CI runner dies.
    child.kill().unwrap();
    child.wait().unwrap();
    let project_label = format!("{PROJECT_LABEL}={}", project.name);
    // The killed client's last requests (a container being created) may still land: wait for two equal listings.
    let list = || {
        runtime()
            .block_on(engine.find_labelled(&[RUN_LABEL, &project_label]))
            .unwrap()
    };
    let mut left = list();
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let again = list();
        if again == left {
            break;
        }
        left = again;
    }
    assert!(
        !left.containers.is_empty() && left.networks.len() == 1 && left.volumes.len() == 1,
        "expected leftovers: {left:?}"
    );

    let clean = project.xtask(&["clean"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    // Requests the killed run had in flight may still land after the listing above: count what clean says.
    let removed = stdout(&clean);
    let containers: usize = removed
        .strip_prefix("removed ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("unexpected clean output: {removed}"));
    assert!(containers >= left.containers.len(), "{removed}");
    assert!(
        removed.contains(&format!(
            "containers, 1 networks, 1 volumes of {}",
            project.name
        )),
        "{removed}"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    let again = project.xtask(&["clean"]);
    assert!(
        stdout(&again).contains("nothing to clean"),
        "{}",
        stdout(&again)
    );
    cleanup_images(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "sigkill_during_smoke",
        "SIGKILL to `cargo xtask smoke` once the app container started (no chance to clean up, as when a CI runner dies)",
        &format!("the run's containers, 1 network and 1 volume were left; `clean` exit 0: `{}`; nothing left, clean again: nothing to clean", removed.trim()),
        "xtask::smoke::clean_removes_what_a_killed_smoke_run_left_behind",
    );
}
