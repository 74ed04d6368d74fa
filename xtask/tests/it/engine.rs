//! The pipeline on a real engine: build, run the production image, determinism of the export, skipping
//! unchanged work, a failing app test, and the exit codes of bad input and a missing engine.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the xtask binary and `kill` as a user would; its polling loops are synchronous (no async runtime is waiting)"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dockyard_engine::{ContainerSpec, Engine, HealthStatus, PROJECT_LABEL, RUN_LABEL};

use crate::support::{context_sha256, engine_or_skip, http_get, runtime, stderr, stdout, Project};

/// Containers a test starts itself, removed when the test ends, pass or fail.
struct TestContainers {
    engine: Engine,
    ids: Vec<String>,
}

impl TestContainers {
    fn start(&mut self, spec: &ContainerSpec) -> String {
        let id = runtime().block_on(async {
            let id = self.engine.create_container(spec).await.unwrap();
            self.engine.start_container(&id).await.unwrap();
            id
        });
        self.ids.push(id.clone());
        id
    }

    /// Runs a command in a fresh container of `image` and returns its exit code and output.
    fn run(&mut self, image: &str, cmd: &[&str]) -> (i64, String) {
        let spec = ContainerSpec {
            image: image.to_owned(),
            cmd: cmd.iter().map(|part| (*part).to_owned()).collect(),
            labels: test_labels(),
            ..ContainerSpec::default()
        };
        let id = self.start(&spec);
        runtime().block_on(async {
            let code = self.engine.wait_container(&id).await.unwrap();
            let output = self.engine.logs_tail(&id, 50).await.unwrap().join("\n");
            (code, output)
        })
    }
}

impl Drop for TestContainers {
    fn drop(&mut self) {
        let engine = self.engine.clone();
        let ids = std::mem::take(&mut self.ids);
        runtime().block_on(async move {
            for id in ids {
                let _ = engine.remove_container(&id).await;
            }
        });
    }
}

fn test_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("dev.dockyard.test".to_owned(), "xtask-it".to_owned())])
}

fn remove_project_images(engine: &Engine, project: &Project) {
    runtime().block_on(async {
        for tag in [
            format!("{}:latest", project.name),
            format!("{}-builder:latest", project.name),
            format!("{}-nginx:latest", project.name),
        ] {
            let _ = engine.remove_image(&tag).await;
        }
    });
}

#[test]
fn build_makes_a_runnable_non_root_production_image_and_skips_unchanged_work() {
    let Some((engine, _lock)) =
        engine_or_skip("build_makes_a_runnable_non_root_production_image_and_skips_unchanged_work")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-spine");
    let doctor = project.xtask(&["doctor"]);
    assert_eq!(
        doctor.status.code(),
        Some(0),
        "doctor should pass on a machine that runs the engine tests"
    );
    assert!(
        stdout(&doctor).contains("ok   engine "),
        "{}",
        stdout(&doctor)
    );

    let first = project.xtask(&["build"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "build failed:\n{}",
        stderr(&first)
    );
    crate::support::assert_no_leftovers(&engine, &project);

    let production_tag = format!("{}:latest", project.name);
    let builder_tag = format!("{}-builder:latest", project.name);
    let (production, builder) = runtime().block_on(async {
        (
            engine.image(&production_tag).await.unwrap().unwrap(),
            engine.image(&builder_tag).await.unwrap().unwrap(),
        )
    });

    // Non-root numeric user, HEALTHCHECK, exposed port, exec-form gunicorn, unbuffered Python.
    let uid: u32 = production
        .user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert_ne!(uid, 0, "the production image runs as root");
    assert!(!production.healthcheck.is_empty(), "no HEALTHCHECK");
    assert_eq!(production.exposed_ports, ["8000/tcp"]);
    assert_eq!(
        production.cmd.first().map(String::as_str),
        Some("/opt/venv/bin/gunicorn"),
        "{:?}",
        production.cmd
    );
    assert!(
        production.env.iter().any(|env| env == "PYTHONUNBUFFERED=1"),
        "{:?}",
        production.env
    );
    // Labels tie the image to its inputs.
    let labels = &production.labels;
    assert_eq!(
        labels["dev.dockyard.context.sha256"],
        format!("sha256:{}", context_sha256(&project))
    );
    assert_eq!(labels["org.opencontainers.image.version"], "0.1.0");
    for key in [
        "org.opencontainers.image.revision",
        "org.opencontainers.image.created",
        "org.opencontainers.image.source",
        "dev.dockyard.inputs",
    ] {
        assert!(labels.contains_key(key), "missing label {key}: {labels:?}");
    }
    assert!(
        production.size < builder.size,
        "production {} bytes is not smaller than builder {} bytes",
        production.size,
        builder.size
    );
    eprintln!(
        "sizes: production {} MB, builder {} MB",
        production.size / 1_000_000,
        builder.size / 1_000_000
    );

    let mut containers = TestContainers {
        engine: engine.clone(),
        ids: Vec::new(),
    };
    // No compilers: the same probe finds gcc in the builder image.
    let probe = [
        "sh",
        "-c",
        "for tool in gcc cc c++ make; do command -v $tool && exit 1; done; exit 0",
    ];
    let (code, output) = containers.run(&production_tag, &probe);
    assert_eq!(code, 0, "a compiler is in the production image: {output}");
    let (code, _) = containers.run(&builder_tag, &probe);
    assert_eq!(code, 1, "the probe should find gcc in the builder image");

    // The documented environment: /health/ answers 200 with JSON, on a read-only root filesystem.
    let spec = ContainerSpec {
        image: production_tag.clone(),
        env: vec![
            "DJANGO_SECRET_KEY=test-only-not-a-secret-0123456789abcdef".to_owned(),
            "DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1".to_owned(),
            "DATABASE_URL=sqlite:////tmp/dockyard.sqlite3".to_owned(),
            "DJANGO_SECURE_SSL_REDIRECT=false".to_owned(),
        ],
        labels: test_labels(),
        read_only_root: true,
        tmpfs: BTreeMap::from([("/tmp".to_owned(), "rw,size=64m".to_owned())]),
        publish: vec![8000],
        ..ContainerSpec::default()
    };
    let started = Instant::now();
    let app = containers.start(&spec);
    let port = runtime()
        .block_on(engine.published_port(&app, 8000))
        .unwrap();
    let (status, body) = loop {
        match http_get(port, "/health/") {
            Ok((status, body)) if status != 0 => break (status, body),
            _ if started.elapsed() > Duration::from_secs(60) => {
                panic!("/health/ did not answer within 60 s")
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    eprintln!(
        "/health/ answered after {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["checks"]["database"], "ok");
    assert_eq!(health["checks"]["cache"], "ok");
    let health_status = loop {
        let state = runtime().block_on(engine.container_state(&app)).unwrap();
        if state.health != HealthStatus::Starting || started.elapsed() > Duration::from_secs(60) {
            break state.health;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        health_status,
        HealthStatus::Healthy,
        "the image HEALTHCHECK did not pass"
    );
    drop(containers);

    // Nothing changed: nothing is rebuilt, and the plan agrees.
    let second = project.xtask(&["build"]);
    assert_eq!(second.status.code(), Some(0));
    let log = stderr(&second);
    for step in [
        "builder image: skipped",
        "export: skipped",
        "production image: skipped",
    ] {
        assert!(log.contains(step), "expected `{step}` in:\n{log}");
    }
    assert!(
        !log.contains("build | Step"),
        "an image was rebuilt:\n{log}"
    );
    let plan = stdout(&project.xtask(&["plan"]));
    let steps: Vec<&str> = plan
        .lines()
        .skip_while(|line| *line != "steps")
        .skip(1)
        .collect();
    assert!(steps.len() >= 5, "{plan}");
    assert!(
        steps.iter().all(|line| line.contains(" cached ")),
        "every step should be cached:\n{plan}"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    remove_project_images(&engine, &project);
}

#[test]
fn export_is_byte_identical_from_an_empty_target_and_follows_content() {
    let Some((engine, _lock)) =
        engine_or_skip("export_is_byte_identical_from_an_empty_target_and_follows_content")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-determinism");
    let first = project.xtask(&["export"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "export failed:\n{}",
        stderr(&first)
    );
    let first_sha = context_sha256(&project);

    std::fs::remove_dir_all(project.path("target")).unwrap();
    let second = project.xtask(&["export"]);
    assert_eq!(
        second.status.code(),
        Some(0),
        "export failed:\n{}",
        stderr(&second)
    );
    assert!(
        stderr(&second).contains("running the builder container"),
        "the second export must really run"
    );
    assert_eq!(
        context_sha256(&project),
        first_sha,
        "two exports from an empty target differ"
    );

    // A new mtime alone changes nothing: the export is skipped and the digest stays.
    let css = project.path("app/notes/static/notes/app.css");
    let file = std::fs::File::options().append(true).open(&css).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(file);
    let touched = project.xtask(&["export"]);
    assert!(
        stderr(&touched).contains("export: skipped"),
        "{}",
        stderr(&touched)
    );
    assert_eq!(context_sha256(&project), first_sha);

    // One byte more changes the context.
    let mut text = std::fs::read_to_string(&css).unwrap();
    text.push(' ');
    std::fs::write(&css, text).unwrap();
    let changed = project.xtask(&["export"]);
    assert_eq!(changed.status.code(), Some(0));
    assert!(
        stderr(&changed).contains("changed: source"),
        "{}",
        stderr(&changed)
    );
    assert_ne!(
        context_sha256(&project),
        first_sha,
        "changing one byte of the source did not change the context"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    remove_project_images(&engine, &project);
}

#[test]
fn a_failing_app_test_stops_the_pipeline_and_shows_the_test_output() {
    let Some((engine, _lock)) =
        engine_or_skip("a_failing_app_test_stops_the_pipeline_and_shows_the_test_output")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-failing-test");
    let tests = project.path("app/tests/test_notes.py");
    let mut text = std::fs::read_to_string(&tests).unwrap();
    text.push_str("\n\nclass PlantedFailureTests(TestCase):\n    def test_planted_failure(self):\n        self.assertEqual(1, 2, \"planted by the dockyard test suite\")\n");
    std::fs::write(&tests, text).unwrap();
    // collectstatic first, as for tests that render through a manifest storage: it runs, then the tests fail.
    crate::smoke::edit(
        &project,
        "deploy.toml",
        "collectstatic_before_tests = false",
        "collectstatic_before_tests = true",
    );

    let output = project.xtask(&["build"]);
    assert_eq!(
        output.status.code(),
        Some(6),
        "a failing test must exit with BUILD_FAILED (6)"
    );
    let log = stderr(&output);
    let position = |step: &str| {
        log.find(&format!("builder step: {step}"))
            .unwrap_or_else(|| panic!("no `builder step: {step}` in:\n{log}"))
    };
    assert!(
        position("collectstatic") < position("tests"),
        "collectstatic_before_tests: collectstatic must run before the tests:\n{log}"
    );
    for expected in [
        "builder step `tests` failed",
        "test_planted_failure",
        "planted by the dockyard test suite",
        "hint: the app's own tests failed",
    ] {
        assert!(log.contains(expected), "expected `{expected}` in:\n{log}");
    }
    crate::support::assert_no_leftovers(&engine, &project);
    let production = runtime()
        .block_on(engine.image(&format!("{}:latest", project.name)))
        .unwrap();
    assert!(
        production.is_none(),
        "no production image may be built after a failing test"
    );
    crate::faults::assert_nothing_left_and_clean_finds_nothing(&engine, &project);
    remove_project_images(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "builder_step_tests_fails",
        "the app's Django tests gain one that fails (`assertEqual(1, 2)`)",
        "exit 6, `builder step `tests` failed` with the failing test's name and message, `hint: the app's own tests failed`; no production image, nothing left, clean: nothing to clean",
        "xtask::engine::a_failing_app_test_stops_the_pipeline_and_shows_the_test_output",
    );
}

#[test]
fn an_unreachable_engine_exits_4_with_a_hint() {
    let project = Project::copy("dockyard-it-no-engine");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .env(
            dockyard_tools::TOOLS_DIR_ENV,
            crate::support::shared_tools_dir(),
        )
        .args(["build", "--config"])
        .arg(project.path("deploy.toml"))
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .output()
        .unwrap();
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{log}");
    assert!(
        log.contains("error: cannot reach the docker engine at tcp://127.0.0.1:9"),
        "{log}"
    );
    assert!(log.contains("hint: start the engine"), "{log}");
}

#[test]
fn an_invalid_deploy_toml_exits_3_naming_file_line_and_key() {
    let project = Project::copy("dockyard-it-bad-config");
    let deploy = std::fs::read_to_string(project.path("deploy.toml"))
        .unwrap()
        .replace("port = 8000", "prot = 8000");
    std::fs::write(project.path("deploy.toml"), deploy).unwrap();
    let output = project.xtask(&["plan"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{log}");
    let line = std::fs::read_to_string(project.path("deploy.toml"))
        .unwrap()
        .lines()
        .position(|line| line.starts_with("prot"))
        .unwrap()
        + 1;
    assert!(
        log.contains(&format!(
            "deploy.toml:{line}:1: unknown key `prot` in `[app]`"
        )),
        "{log}"
    );
    assert!(log.contains("hint: did you mean `port`?"), "{log}");
    assert_eq!(
        log.matches("hint:").count(),
        1,
        "the hint is printed once: {log}"
    );
}

#[test]
fn ctrl_c_during_the_builder_step_exits_130_and_leaves_nothing_behind() {
    let Some((engine, _lock)) =
        engine_or_skip("ctrl_c_during_the_builder_step_exits_130_and_leaves_nothing_behind")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-interrupted");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .env(
            dockyard_tools::TOOLS_DIR_ENV,
            crate::support::shared_tools_dir(),
        )
        .args(["export", "--force", "--config"])
        .arg(project.path("deploy.toml"))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the builder container is running, then press Ctrl-C.
    let (_, lines) = crate::support::stderr_until(&mut child, "the builder", |line| {
        line.contains("builder step: wheels")
    });
    let project_label = format!("{PROJECT_LABEL}={}", project.name);
    let during = runtime()
        .block_on(engine.find_labelled(&[RUN_LABEL, &project_label]))
        .unwrap();
    assert_eq!(
        during.containers.len(),
        1,
        "the builder container should be running: {during:?}"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130), "{}", rest.join("\n"));
    assert!(
        rest.iter()
            .any(|line| line.contains("interrupted: cleaning up")),
        "{}",
        rest.join("\n")
    );
    crate::support::assert_no_leftovers(&engine, &project);
    let work_dirs: Vec<_> = std::fs::read_dir(project.path("target/dockyard"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("work-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        work_dirs.is_empty(),
        "work folders left behind: {work_dirs:?}"
    );
    remove_project_images(&engine, &project);
}
