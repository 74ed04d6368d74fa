//! The pipeline against a second engine reached over TCP (its own network and mount namespaces, nothing shared with
//! the host but the API), no bind mount of a host path in any container, and the fault "the engine restarted during
//! a build".
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the xtask binary against a second engine and interrupts it, which needs the child's handle"
)]

use std::collections::BTreeMap;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockyard_engine::{ContainerMount, Engine, PROJECT_LABEL, RUN_LABEL};
use dockyard_reliability::Category;

use crate::second_engine::SecondEngine;
use crate::smoke::edit;
use crate::support::{context_sha256, engine_or_skip, runtime, stdout, Project};

const TEST: &str =
    "xtask::it::remote::the_pipeline_runs_on_a_remote_engine_without_bind_mounts_and_survives_its_restart";

/// Containers of the project (by id) seen on `engine` while `work` ran, with their mounts: polled every 100 ms.
fn watch_mounts<T>(
    host: &str,
    project: &str,
    work: impl FnOnce() -> T,
) -> (T, BTreeMap<String, Vec<ContainerMount>>) {
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        let host = host.to_owned();
        let label = format!("{PROJECT_LABEL}={project}");
        std::thread::spawn(move || {
            let mut seen: BTreeMap<String, Vec<ContainerMount>> = BTreeMap::new();
            runtime().block_on(async {
                let engine = Engine::connect_to(&host).await.unwrap();
                while !done.load(Ordering::SeqCst) {
                    if let Ok(found) = engine.find_labelled(&[RUN_LABEL, &label]).await {
                        for container in found.containers {
                            if let std::collections::btree_map::Entry::Vacant(entry) =
                                seen.entry(container)
                            {
                                if let Ok(mounts) = engine.container_mounts(entry.key()).await {
                                    entry.insert(mounts);
                                }
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            seen
        })
    };
    let result = work();
    done.store(true, Ordering::SeqCst);
    (result, watcher.join().unwrap())
}

fn leftovers_of_runs(engine: &Engine, project: &Project) -> dockyard_engine::Leftovers {
    let project_label = format!("{PROJECT_LABEL}={}", project.name);
    runtime()
        .block_on(engine.find_labelled(&[RUN_LABEL, &project_label]))
        .unwrap()
}

fn has_image(engine: &Engine, reference: &str) -> bool {
    runtime()
        .block_on(engine.image(reference))
        .unwrap()
        .is_some()
}

#[test]
fn the_pipeline_runs_on_a_remote_engine_without_bind_mounts_and_survives_its_restart() {
    let Some((main_engine, _lock)) = engine_or_skip(TEST) else {
        return;
    };
    let Some(mut second) = SecondEngine::start_or_skip(TEST) else {
        return;
    };
    let remote = second.connect();
    // The sample app on PostgreSQL (its Redis and worker left out to keep the empty engine's bootstraps to four).
    let project = Project::copy_with("dockyard-it-remote", "deploy.services.toml");
    let deploy = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
    // The worker's readiness needs the shared cache: it goes with Redis.
    let worker = deploy.find("[[app.process]]").and_then(|start| {
        deploy[start..]
            .find("\n\n")
            .map(|end| start..start + end + 2)
    });
    let without_redis = match worker {
        Some(range) => format!("{}{}", &deploy[..range.start], &deploy[range.end..]),
        None => deploy.clone(),
    }
    .replace(
        "[services.cache]\nkind = \"redis\"\nversion = \"7.0\"\nenv = { CACHE_URL = \"url\" }\n",
        "",
    );
    assert!(
        !without_redis.contains("[[app.process]]"),
        "{without_redis}"
    );
    assert_ne!(
        deploy, without_redis,
        "deploy.services.toml no longer has the cache service this test removes"
    );
    std::fs::write(project.path("deploy.toml"), without_redis).unwrap();
    let host = second.host.clone();
    let env = [("DOCKER_HOST", host.as_str())];

    // The whole pipeline up to smoke, on an empty engine: the bases are bootstrapped and imported over TCP.
    let started = Instant::now();
    let (smoke, mounts) = watch_mounts(&host, &project.name, || {
        project.xtask_with_env(&["smoke"], &env)
    });
    let smoke_seconds = started.elapsed().as_secs_f64();
    let smoke_stderr = String::from_utf8_lossy(&smoke.stderr).into_owned();
    assert_eq!(
        smoke.status.code(),
        Some(0),
        "smoke against {host} failed; engine log:\n{}",
        second.log_tail()
    );
    for base in [
        "dockyard/python-runtime:bookworm",
        "dockyard/python-builder:bookworm",
        "dockyard/nginx:bookworm",
        "dockyard/postgres:15-bookworm",
    ] {
        assert!(
            smoke_stderr.contains(&format!("bootstrapped {base}")),
            "{base} was not bootstrapped into the empty remote engine"
        );
        assert!(
            has_image(&remote, base),
            "{base} is not in the remote engine"
        );
    }
    let images = [
        format!("{}:latest", project.name),
        format!("{}-nginx:latest", project.name),
        format!("{}-builder:latest", project.name),
    ];
    for image in &images {
        assert!(
            has_image(&remote, image),
            "{image} is not in the remote engine"
        );
        assert!(
            !has_image(&main_engine, image),
            "{image} is in the main engine: the run did not use DOCKER_HOST"
        );
    }
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            project.path(&format!("target/dockyard/{}-smoke.json", project.name)),
        )
        .unwrap(),
    )
    .unwrap();
    let checks = report["checks"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|check| check["passed"] != true)
        .collect();
    assert!(failed.is_empty(), "failed smoke checks: {failed:?}");
    assert!(
        checks
            .iter()
            .any(|check| check["name"] == "the app's database is service `db`"),
        "smoke did not check the app's database is the PostgreSQL service: {checks:?}"
    );
    let through_nginx = checks
        .iter()
        .filter(|check| {
            check["name"]
                .as_str()
                .is_some_and(|name| name.contains("through nginx"))
        })
        .count();
    assert!(
        through_nginx >= 1,
        "no static file was fetched through nginx"
    );
    let engine_ip = host
        .trim_start_matches("tcp://")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        smoke_stderr
            .lines()
            .any(|line| line.contains("nginx container started")
                && line.contains(&format!(" on {engine_ip}:"))),
        "the smoke checks did not reach nginx at the engine's address {engine_ip}"
    );
    for (engine, which) in [(&remote, "remote"), (&main_engine, "main")] {
        let left = leftovers_of_runs(engine, &project);
        assert!(
            left.is_empty(),
            "the {which} engine holds leftovers: {left:?}"
        );
    }
    let clean = project.xtask_with_env(&["clean"], &env);
    assert_eq!(clean.status.code(), Some(0));
    assert!(
        stdout(&clean).contains(&format!("nothing to clean for {}", project.name)),
        "{}",
        stdout(&clean)
    );
    eprintln!("remote smoke from an empty engine took {smoke_seconds:.0} s; its steps:");
    for line in smoke_stderr
        .lines()
        .filter(|line| line.starts_with("==> ") && line.ends_with("s)"))
    {
        eprintln!("  {line}");
    }
    dockyard_reliability::record(
        Category::RemoteEngine,
        "the full pipeline against an engine reached over TCP",
        "`cargo xtask smoke` of the sample app with [services.db] PostgreSQL, DOCKER_HOST=tcp://10.211.N.2:2375, an empty second dockerd in its own network \
         and mount namespaces (the host's /tmp, where the project lives, hidden from it)",
        &format!(
            "exit 0; 3 bases and PostgreSQL 15 bootstrapped and imported over TCP; the builder's tests and smoke \
             against PostgreSQL on the remote engine's networks; {} images in the remote \
             engine, none in the main one; {} smoke checks passed, {through_nginx} of them through nginx at \
             the engine's address, not 127.0.0.1; 0 containers, networks or volumes of the run left in either engine; `clean` finds nothing",
            images.len(),
            checks.len()
        ),
        TEST,
    );

    // No container the run created had a host path mounted: every mount is a named volume.
    let binds: Vec<(&String, &ContainerMount)> = mounts
        .iter()
        .flat_map(|(container, mounts)| mounts.iter().map(move |mount| (container, mount)))
        .filter(|(_, mount)| mount.kind != "volume")
        .collect();
    assert!(
        binds.is_empty(),
        "containers with mounts other than named volumes: {binds:?}"
    );
    assert!(
        mounts.len() >= 3,
        "expected to see at least the builder, app and nginx containers, saw {}: {mounts:?}",
        mounts.len()
    );
    let n_volume_mounts: usize = mounts.values().map(Vec::len).sum();
    assert!(
        n_volume_mounts >= 1,
        "no named volume seen (the pip cache, the data volume)"
    );
    dockyard_reliability::record(
        Category::RemoteEngine,
        "no container has a bind mount of a host path",
        "inspected every container of the remote smoke run through the engine API while it existed (polled every \
         100 ms), with the project folder hidden from the engine's mount namespace",
        &format!(
            "every container seen (at least 3 required: builder, app, nginx) had only named-volume mounts \
             ({n_volume_mounts} seen: the pip cache and the data volume), 0 bind mounts; the run passed although the \
             engine cannot see the project folder"
        ),
        TEST,
    );

    // `cargo xtask dev` on the remote engine: the source and every change travel through the API, the app answers at
    // the engine's address, and no container of the session has a bind mount.
    let deploy = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
    std::fs::write(
        project.path("deploy.toml"),
        format!("{deploy}\n[dev]\nport = 0\nenv = {{ DJANGO_DEBUG = \"true\" }}\n"),
    )
    .unwrap();
    let (round, dev_mounts) = watch_mounts(&host, &project.name, || {
        crate::dev::session_round(&remote, &project, &env, Category::RemoteEngine, TEST)
    });
    let dev_binds: Vec<&ContainerMount> = dev_mounts
        .values()
        .flatten()
        .filter(|mount| mount.kind != "volume")
        .collect();
    assert!(
        dev_binds.is_empty(),
        "dev containers with mounts other than named volumes: {dev_binds:?}"
    );
    assert!(
        dev_mounts.len() >= 3,
        "expected the dependencies, migrate and app containers of the dev session at least: {dev_mounts:?}"
    );
    eprintln!(
        "dev on the remote engine: save to served {:?} s, Ctrl-C to exit {:.1} s, {} containers seen",
        round.view_seconds,
        round.stop_seconds,
        dev_mounts.len()
    );
    std::fs::write(project.path("deploy.toml"), deploy).unwrap();

    // The engine restarts while the builder container runs a changed source.
    edit(
        &project,
        "app/notes/views.py",
        "\n",
        "\n# changed before the remote engine restarts\n",
    );
    let context_before = context_sha256(&project);
    let mut build = project
        .xtask_command(&["build"])
        .env("DOCKER_HOST", &host)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The dependencies volume holds the locked set since the first build: the changed source goes straight to the
    // tests, which run for seconds against PostgreSQL.
    let (_, lines) = crate::support::stderr_until(&mut build, "the builder", |line| {
        line.contains("builder step: tests")
    });
    let during = leftovers_of_runs(&remote, &project);
    // The builder container and the PostgreSQL service its tests run against.
    assert_eq!(
        during.containers.len(),
        2,
        "the builder container and its database should be running: {during:?}"
    );
    second.kill_daemon();
    let restart_started = Instant::now();
    second.start_daemon();
    eprintln!(
        "the second engine restarted in {:.1} s",
        restart_started.elapsed().as_secs_f64()
    );
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let exit = build.wait().unwrap();
    let output = rest.join("\n");
    eprintln!(
        "--- xtask build during the restart (exit {:?})\n{output}",
        exit.code()
    );
    let code = exit.code();
    assert_eq!(
        code,
        Some(4),
        "expected exit 4 (the engine went away):\n{output}"
    );
    let error_line = format!("lost the connection to the docker engine at {host}");
    assert!(output.contains(&error_line), "{output}");
    let hint_line = format!("hint: the engine at {host} stopped or restarted mid-run");
    assert!(output.contains(&hint_line), "{output}");
    assert!(
        output.contains("`cargo xtask clean` removes what the run left there"),
        "{output}"
    );
    assert_eq!(
        context_sha256(&project),
        context_before,
        "the interrupted run changed the recorded context"
    );
    let remote = second.connect();
    let clean = project.xtask_with_env(&["clean"], &env);
    assert_eq!(clean.status.code(), Some(0));
    let cleaned = stdout(&clean);
    let after_clean = leftovers_of_runs(&remote, &project);
    assert!(after_clean.is_empty(), "`clean` left {after_clean:?}");
    let again = project.xtask_with_env(&["build"], &env);
    let again_stderr = String::from_utf8_lossy(&again.stderr).into_owned();
    assert_eq!(
        again.status.code(),
        Some(0),
        "the build after the restart failed"
    );
    assert!(
        again_stderr.contains("export: running the builder container (changed:"),
        "the build after the restart skipped the interrupted export"
    );
    let context_after = context_sha256(&project);
    assert_ne!(
        context_after, context_before,
        "the changed source did not reach the context"
    );
    let left = leftovers_of_runs(&remote, &project);
    assert!(left.is_empty(), "the build after the restart left {left:?}");
    let final_clean = project.xtask_with_env(&["clean"], &env);
    assert!(stdout(&final_clean).contains(&format!("nothing to clean for {}", project.name)));
    dockyard_reliability::record(
        Category::Fault,
        "the engine restarted during a build",
        "`cargo xtask build` on a changed source against the second engine; its dockerd and containerd killed \
         with SIGKILL while the builder container ran (`builder step: tests`), then started again",
        &format!(
            "exit {} with `lost the connection to the docker engine at <DOCKER_HOST>` and a hint naming `cargo xtask clean`; the recorded context unchanged; `clean` after the \
             restart: {}; 0 containers, networks or volumes of the run left; the next `build` re-ran the export \
             and succeeded with a new context sha256; `clean` then finds nothing",
            code.unwrap_or(-1),
            cleaned.trim()
        ),
        TEST,
    );
}
