//! Faults injected while the pipeline runs: an unreachable engine, a failing builder step, an invalid nginx config,
//! a registry that goes away during a push, Ctrl-C during each stage. Each asserts its documented exit code, a
//! message naming the failing thing, that the engine holds nothing of the run, and that `clean` finds nothing.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the xtask binary and sends it signals with `kill`, which needs the child's handle"
)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dockyard_engine::Engine;
use dockyard_reliability::{record, Category};

use crate::registry::LocalRegistry;
use crate::smoke::{cleanup_images, edit, without_app_tests};
use crate::support::{engine_or_skip, runtime, stderr, stdout, Project};

/// Nothing labelled with the project is left on the engine, and `cargo xtask clean` says there is nothing to clean.
pub(crate) fn assert_nothing_left_and_clean_finds_nothing(engine: &Engine, project: &Project) {
    crate::support::assert_no_leftovers(engine, project);
    let clean = project.xtask(&["clean"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert_eq!(
        stdout(&clean).trim(),
        format!("nothing to clean for {}", project.name),
        "clean found something after the fault"
    );
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_engine_exits_4_naming_the_address_with_a_hint() {
    let test = "an_unreachable_engine_exits_4_naming_the_address_with_a_hint";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-engine");
    let port = closed_port();
    let cases = [
        ("engine_closed_tcp_port", format!("tcp://127.0.0.1:{port}")),
        (
            "engine_missing_unix_socket",
            "unix:///nonexistent/dockyard/docker.sock".to_owned(),
        ),
    ];
    for (case, host) in &cases {
        for command in ["build", "smoke", "clean"] {
            let started = Instant::now();
            let output = project.xtask_with_env(&[command], &[("DOCKER_HOST", host)]);
            let log = stderr(&output);
            assert_eq!(output.status.code(), Some(4), "{case} {command}: {log}");
            let message = format!("error: cannot reach the docker engine at {host}");
            assert!(log.contains(&message), "{case} {command}: {log}");
            assert!(
                log.contains("hint: start the engine"),
                "{case} {command}: {log}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{case} {command}: giving up took {:?}",
                started.elapsed()
            );
        }
        assert_nothing_left_and_clean_finds_nothing(&engine, &project);
        // The port differs from run to run; the record names it by what it is.
        let host = host.replace(&format!(":{port}"), ":<closed port>");
        record(
            Category::Fault,
            case,
            &format!("DOCKER_HOST={host}; build, smoke and clean"),
            &format!("exit 4 each, `cannot reach the docker engine at {host}` with `hint: start the engine`; nothing left, clean: nothing to clean"),
            &format!("xtask::faults::{test}"),
        );
    }
}

/// Builds `project` (expecting a failing builder step) and checks exit 6, the step's name and the hint.
fn assert_builder_step_fails(
    engine: &Engine,
    project: &Project,
    step: &str,
    planted: &str,
) -> String {
    let output = project.xtask(&["build"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(6), "{log}");
    let message = format!("builder step `{step}` failed");
    assert!(log.contains(&message), "expected `{message}` in:\n{log}");
    assert!(log.contains(planted), "expected `{planted}` in:\n{log}");
    assert!(log.contains("\nhint: "), "no hint in:\n{log}");
    let hint = log
        .lines()
        .find(|line| line.starts_with("hint: "))
        .unwrap()
        .to_owned();
    assert_nothing_left_and_clean_finds_nothing(engine, project);
    let production = runtime()
        .block_on(engine.image(&format!("{}:latest", project.name)))
        .unwrap();
    assert!(
        production.is_none(),
        "a production image was built after `{step}` failed"
    );
    format!("exit 6, `{message}` with the tool's output naming `{planted}`, `{hint}`; no production image, nothing left, clean: nothing to clean")
}

#[test]
fn a_requirement_that_cannot_install_fails_the_wheels_step_with_exit_6() {
    let test = "a_requirement_that_cannot_install_fails_the_wheels_step_with_exit_6";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-wheels");
    let requirements = project.path("app/requirements.txt");
    let mut text = std::fs::read_to_string(&requirements).unwrap();
    text.push_str("dockyard-planted-missing-package==0.0.1\n");
    std::fs::write(&requirements, text).unwrap();
    let outcome = assert_builder_step_fails(
        &engine,
        &project,
        "wheels",
        "dockyard-planted-missing-package",
    );
    cleanup_images(&engine, &project);
    record(
        Category::Fault,
        "builder_step_wheels_fails",
        "app/requirements.txt gains `dockyard-planted-missing-package==0.0.1`, which no index has",
        &outcome,
        &format!("xtask::faults::{test}"),
    );
}

#[test]
fn a_static_file_that_references_a_missing_file_fails_collectstatic_with_exit_6() {
    let test = "a_static_file_that_references_a_missing_file_fails_collectstatic_with_exit_6";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-collectstatic");
    without_app_tests(&project);
    let css = project.path("app/notes/static/notes/app.css");
    let mut text = std::fs::read_to_string(&css).unwrap();
    text.push_str("\n.planted { background: url(\"planted-missing-image.png\"); }\n");
    std::fs::write(&css, text).unwrap();
    let outcome = assert_builder_step_fails(
        &engine,
        &project,
        "collectstatic",
        "planted-missing-image.png",
    );
    cleanup_images(&engine, &project);
    record(
        Category::Fault,
        "builder_step_collectstatic_fails",
        "app.css references url(\"planted-missing-image.png\"), which does not exist (the manifest storage fails)",
        &outcome,
        &format!("xtask::faults::{test}"),
    );
}

#[test]
fn an_invalid_nginx_config_fails_smoke_naming_nginx_with_its_log() {
    let test = "an_invalid_nginx_config_fails_smoke_naming_nginx_with_its_log";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-nginx-conf");
    without_app_tests(&project);
    edit(
        &project,
        "docker/nginx/nginx.conf",
        "server_tokens off;",
        "server_tokens planted_invalid_value;",
    );
    let build = project.xtask(&["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let started = Instant::now();
    let smoke = project.xtask(&["smoke"]);
    let seconds = started.elapsed().as_secs();
    let out = stdout(&smoke);
    let log = stderr(&smoke);
    assert_eq!(smoke.status.code(), Some(9), "{out}\n{log}");
    let failure = out
        .lines()
        .position(|line| line.starts_with("FAIL") && line.contains("nginx starts"))
        .unwrap_or_else(|| panic!("expected the check `nginx starts` to fail:\n{out}"));
    let details: String = out
        .lines()
        .skip(failure + 1)
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(details.contains("actual:   nginx exited"), "{details}");
    assert!(
        details.contains("planted_invalid_value") || log.contains("planted_invalid_value"),
        "nginx's own complaint should be shown:\n{out}\n{log}"
    );
    assert!(log.contains("hint: "), "{log}");
    // Found at once, not after the startup deadline.
    assert!(
        seconds < 85,
        "the smoke run took {seconds} s: the nginx failure waited for the deadline"
    );
    assert_nothing_left_and_clean_finds_nothing(&engine, &project);
    cleanup_images(&engine, &project);
    record(
        Category::Fault,
        "invalid_nginx_config",
        "docker/nginx/nginx.conf (the [nginx] config template) says `server_tokens planted_invalid_value;`",
        &format!("exit 9, `FAIL lifecycle nginx starts`, actual `nginx exited` with nginx's log naming the bad value, a hint; smoke over in {seconds} s (deadline 90 s); nothing left, clean: nothing to clean"),
        &format!("xtask::faults::{test}"),
    );
}

#[test]
fn a_registry_that_goes_away_during_the_push_exits_10_and_moves_no_moving_tag() {
    let test = "a_registry_that_goes_away_during_the_push_exits_10_and_moves_no_moving_tag";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some(mut registry) = LocalRegistry::start() else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-registry-gone");
    without_app_tests(&project);
    edit(
        &project,
        "deploy.toml",
        "push_backoff_ms = 500",
        "push_backoff_ms = 50",
    );
    let mut child = project
        .xtask_command(&[
            "release",
            "--allow-missing-vulnerability-db",
            "--version",
            "2.0.0",
        ])
        .env("DOCKYARD_REGISTRY", &registry.address)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut seen, lines) = crate::support::stderr_until(&mut child, "the push", |line| {
        line.starts_with("    push | ")
    });
    // The registry process dies while the first image is being pushed.
    registry.kill();
    seen.extend(lines.map(Result::unwrap));
    let exit = child.wait().unwrap();
    let log = seen.join("\n");
    eprintln!("{}", crate::support::tail(&log, 40));
    assert_eq!(exit.code(), Some(10), "{log}");
    let failed = log
        .lines()
        .find(|line| line.starts_with("error: pushing ") && line.contains(" failed after "))
        .unwrap_or_else(|| panic!("no `error: pushing ... failed after` line:\n{log}"))
        .to_owned();
    assert!(failed.contains(&registry.address), "{failed}");
    assert!(log.contains("hint: no moving tag was moved"), "{log}");
    // `latest` moved neither in the registry's storage nor locally.
    for repository in [project.name.clone(), format!("{}-nginx", project.name)] {
        assert!(
            !registry.tag_on_disk(&repository, "latest"),
            "the registry holds {repository}:latest"
        );
        let local = runtime()
            .block_on(engine.image(&format!("{}/{repository}:latest", registry.address)))
            .unwrap();
        assert!(local.is_none(), "{repository}:latest was tagged locally");
    }
    assert_nothing_left_and_clean_finds_nothing(&engine, &project);
    runtime().block_on(async {
        for repository in [project.name.clone(), format!("{}-nginx", project.name)] {
            for tag in ["2.0.0", "sha-unknown", "latest"] {
                let _ = engine
                    .remove_image(&format!("{}/{repository}:{tag}", registry.address))
                    .await;
            }
        }
    });
    cleanup_images(&engine, &project);
    let attempts = log.matches("failed (transient, attempt").count();
    record(
        Category::Fault,
        "registry_gone_during_push",
        "the local docker-registry process is killed when the first `push |` line appears",
        &format!("exit 10, `{}` after {attempts} retries of transient failures, `hint: no moving tag was moved`; no `latest` in the registry's storage or locally; nothing left, clean: nothing to clean", failed.split(": ").take(2).collect::<Vec<_>>().join(": ").replace(&registry.address, "<registry>")),
        &format!("xtask::faults::{test}"),
    );
}

/// One stage of the pipeline to interrupt: the command, the stderr line that says the stage is running, and how
/// long to wait after it before Ctrl-C (so the stage's work is really under way).
pub(crate) struct Stage {
    pub(crate) case: &'static str,
    pub(crate) args: &'static [&'static str],
    pub(crate) marker: &'static str,
    pub(crate) settle: Duration,
    /// The line that must not have appeared before Ctrl-C: the stage had not finished.
    pub(crate) finished: &'static str,
}

/// Runs the xtask in its own process group, presses Ctrl-C (SIGINT to the whole group, as a terminal does) once
/// `stage.marker` appeared and `stage.settle` passed; returns the exit code, the seconds from Ctrl-C to exit, and
/// stderr.
pub(crate) fn interrupt(
    project: &Project,
    stage: &Stage,
    env: &[(&str, &str)],
) -> (Option<i32>, f64, String) {
    signal_at_stage(project, stage, env, "-INT")
}

/// [`interrupt`] with another signal (`-TERM`: a CI runner cancelling the job), to the whole process group.
pub(crate) fn signal_at_stage(
    project: &Project,
    stage: &Stage,
    env: &[(&str, &str)],
    signal: &str,
) -> (Option<i32>, f64, String) {
    let mut child = project
        .xtask_command(stage.args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    let stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut marked_at = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(at) = marked_at {
            if Instant::now() >= at {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}: no `{}` within 600 s:\n{}",
            stage.case,
            stage.marker,
            seen.join("\n")
        );
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if marked_at.is_none() && line.contains(stage.marker) {
                    marked_at = Some(Instant::now() + stage.settle);
                }
                seen.push(line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!(
                "{}: the run ended before `{}`:\n{}",
                stage.case,
                stage.marker,
                seen.join("\n")
            ),
        }
    }
    assert!(
        !seen.iter().any(|line| line.contains(stage.finished)),
        "{}: the stage finished before Ctrl-C:\n{}",
        stage.case,
        seen.join("\n")
    );
    let pressed = Instant::now();
    let status = Command::new("kill")
        .args([signal, "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let seconds = pressed.elapsed().as_secs_f64();
    reader.join().unwrap();
    seen.extend(receiver.try_iter());
    (exit.code(), seconds, seen.join("\n"))
}

pub(crate) fn assert_interrupted(
    engine: &Engine,
    project: &Project,
    stage: &Stage,
    outcome: (Option<i32>, f64, String),
) -> String {
    let (code, seconds, log) = outcome;
    assert_eq!(code, Some(130), "{}:\n{log}", stage.case);
    assert!(
        log.contains("interrupted: cleaning up"),
        "{}:\n{log}",
        stage.case
    );
    assert!(
        seconds < 30.0,
        "{}: cleaning up took {seconds:.1} s",
        stage.case
    );
    assert_nothing_left_and_clean_finds_nothing(engine, project);
    let work_dirs: Vec<_> = std::fs::read_dir(project.path("target/dockyard"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("work-"))
                .map(|entry| entry.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        work_dirs.is_empty(),
        "{}: work folders left behind: {work_dirs:?}",
        stage.case
    );
    format!("exit 130 {seconds:.1} s after Ctrl-C, `interrupted: cleaning up`; no work folder, nothing left, clean: nothing to clean")
}

/// A slow first line in a Dockerfile's final stage, so Ctrl-C lands while that image builds.
fn slow_down(project: &Project, dockerfile: &str, anchor: &str) {
    edit(
        project,
        dockerfile,
        anchor,
        &format!("RUN sleep 12\n{anchor}"),
    );
}

#[test]
fn ctrl_c_during_each_stage_exits_130_and_leaves_nothing_behind() {
    let test = "ctrl_c_during_each_stage_exits_130_and_leaves_nothing_behind";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-ctrl-c").with_own_templates();
    // Each stage must find its image missing: an earlier run that failed half-way may have left some.
    cleanup_images(&engine, &project);
    without_app_tests(&project);
    // Each image build sleeps 12 s once (then its inputs are unchanged and the image is reused).
    slow_down(&project, "docker/builder.Dockerfile", "COPY ");
    slow_down(
        &project,
        "docker/production.Dockerfile",
        "USER {{ user }}:{{ user }}",
    );
    slow_down(&project, "docker/nginx.Dockerfile", "COPY nginx.conf");
    let settle = Duration::from_secs(3);
    let stages = [
        Stage {
            case: "ctrl_c_builder_image",
            args: &["build"],
            marker: "==> builder image: building",
            settle,
            finished: "==> builder image: built",
        },
        Stage {
            case: "ctrl_c_builder_container",
            args: &["build"],
            marker: "builder step: wheels",
            settle: Duration::from_secs(1),
            finished: "==> export: /",
        },
        Stage {
            case: "ctrl_c_production_image",
            args: &["build"],
            marker: "==> production image: building",
            settle,
            finished: "==> production image: built",
        },
        Stage {
            case: "ctrl_c_nginx_image",
            args: &["build"],
            marker: "==> nginx image: building",
            settle,
            finished: "==> nginx image: built",
        },
        Stage {
            case: "ctrl_c_scan",
            args: &["scan", "--allow-missing-vulnerability-db"],
            marker: "==> scan: trivy",
            settle: Duration::from_secs(2),
            finished: "==> scan app:",
        },
        Stage {
            case: "ctrl_c_smoke",
            args: &["smoke"],
            // At once: the app can be ready and the checks done within a second of its start.
            marker: "app container started",
            settle: Duration::from_millis(0),
            finished: "stopped in",
        },
        Stage {
            case: "ctrl_c_push",
            args: &[
                "release",
                "--allow-missing-vulnerability-db",
                "--version",
                "3.0.0",
            ],
            marker: "    push | ",
            settle: Duration::from_millis(0),
            finished: "==> release: wrote",
        },
    ];
    let registry_env = [("DOCKYARD_REGISTRY", registry.address.as_str())];
    for stage in &stages {
        let outcome = interrupt(&project, stage, &registry_env);
        let mut outcome = assert_interrupted(&engine, &project, stage, outcome);
        if stage.case == "ctrl_c_push" {
            for repository in [project.name.clone(), format!("{}-nginx", project.name)] {
                assert!(
                    !registry.tag_on_disk(&repository, "latest"),
                    "{repository}:latest moved"
                );
            }
            outcome.push_str("; no `latest` in the registry");
        }
        record(
            Category::Fault,
            stage.case,
            &format!(
                "SIGINT to the process group of `cargo xtask {}` {} ms after `{}`",
                stage.args.join(" "),
                stage.settle.as_millis(),
                stage.marker.trim()
            ),
            &outcome,
            &format!("xtask::faults::{test}"),
        );
    }
    runtime().block_on(async {
        for repository in [project.name.clone(), format!("{}-nginx", project.name)] {
            for tag in ["3.0.0", "sha-unknown", "latest"] {
                let _ = engine
                    .remove_image(&format!("{}/{repository}:{tag}", registry.address))
                    .await;
            }
        }
    });
    cleanup_images(&engine, &project);
}

#[test]
fn sigterm_during_smoke_cleans_up_like_ctrl_c() {
    let test = "sigterm_during_smoke_cleans_up_like_ctrl_c";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-sigterm");
    without_app_tests(&project);
    let build = project.xtask(&["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let stage = Stage {
        case: "sigterm_smoke",
        args: &["smoke"],
        marker: "app container started",
        settle: Duration::from_millis(0),
        finished: "stopped in",
    };
    let outcome = signal_at_stage(&project, &stage, &[], "-TERM");
    let outcome = assert_interrupted(&engine, &project, &stage, outcome);
    record(
        Category::Fault,
        stage.case,
        "SIGTERM (as a CI runner cancelling the job sends) to the process group of `cargo xtask smoke` once the app container started",
        &outcome.replace("after Ctrl-C", "after SIGTERM"),
        &format!("xtask::faults::{test}"),
    );
    cleanup_images(&engine, &project);
}

#[test]
fn ctrl_c_while_a_base_image_is_bootstrapped_exits_130_and_leaves_nothing_behind() {
    let test = "ctrl_c_while_a_base_image_is_bootstrapped_exits_130_and_leaves_nothing_behind";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-fault-ctrl-c-base");
    // A base image nobody has and nobody may pull: it is bootstrapped with mmdebstrap.
    let missing = format!("{}/python-runtime:bookworm", project.name);
    edit(
        &project,
        "deploy.toml",
        "image = \"dockyard/python-runtime:bookworm\"",
        &format!("image = \"{missing}\"\npull = false"),
    );
    let stage = Stage {
        case: "ctrl_c_base_bootstrap",
        args: &["base"],
        marker: "    mmdebstrap | ",
        settle: Duration::from_secs(2),
        finished: "importing ",
    };
    let outcome = interrupt(&project, &stage, &[]);
    let outcome = assert_interrupted(&engine, &project, &stage, outcome);
    let image = runtime().block_on(engine.image(&missing)).unwrap();
    assert!(image.is_none(), "{missing} was imported after Ctrl-C");
    record(
        Category::Fault,
        stage.case,
        &format!(
            "SIGINT to the process group of `cargo xtask base` {} ms after the first `mmdebstrap |` line (a base image bootstrapped from Debian packages)",
            stage.settle.as_millis()
        ),
        &format!("{outcome}; no base image imported"),
        &format!("xtask::faults::{test}"),
    );
}
