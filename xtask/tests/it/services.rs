//! `[services]` end to end on the sample app: PostgreSQL and Redis for the builder's tests, smoke and `run`, the
//! service faults at the builder (exit 6) and in smoke (exit 9), all without leftovers.

use dockyard_engine::Engine;
use dockyard_reliability::Category;

use crate::smoke::{cleanup_images, edit};
use crate::support::{assert_no_leftovers, engine_or_skip, runtime, stderr, stdout, Project};

/// The smoke report's checks of `project`.
fn smoke_checks(project: &Project) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(
        project.path(&format!("target/dockyard/{}-smoke.json", project.name)),
    )
    .unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["checks"].as_array().unwrap().clone()
}

/// Builds an image tagged `tag` from `dockerfile` (an empty context).
pub(crate) fn build_test_image(engine: &Engine, tag: &str, dockerfile: &str) {
    let folder = tempfile::tempdir().unwrap();
    let context = folder.path().join("context.tar");
    {
        let mut tar = tar::Builder::new(std::fs::File::create(&context).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
            .unwrap();
        tar.finish().unwrap();
    }
    let spec = dockyard_engine::BuildSpec {
        tag: tag.to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        labels: std::collections::BTreeMap::new(),
    };
    runtime()
        .block_on(engine.build_image(&spec, &context, &mut |_| {}))
        .unwrap();
}

#[test]
fn check_passes_on_the_sample_app_with_postgres_and_redis() {
    let test = "check_passes_on_the_sample_app_with_postgres_and_redis";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy_with("dockyard-it-services", "deploy.services.toml");
    let check = project.xtask(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let log = stderr(&check);
    for service in ["db", "cache"] {
        assert!(
            log.contains(&format!("service {service} ready in")),
            "service {service} was not started and awaited:\n{log}"
        );
    }
    let checks = smoke_checks(&project);
    let database = checks
        .iter()
        .find(|check| check["name"] == "the app's database is service `db`")
        .unwrap_or_else(|| panic!("no database check in {checks:?}"));
    assert_eq!(database["passed"], true, "{database}");
    assert!(
        checks.iter().all(|check| check["passed"] == true),
        "{checks:?}"
    );
    // The worker process ran beside the app, its heartbeat reached Redis (its ready command saw it), and it stopped.
    for name in ["process `worker` is ready", "worker stops gracefully"] {
        assert!(
            checks.iter().any(|check| check["name"] == name),
            "no `{name}` check in {checks:?}"
        );
    }
    // `run` gets the services too: the app's database is PostgreSQL and its cache Redis.
    let script = "from django.db import connection; from django.core.cache import caches; \
                  cache = caches['default']; cache.set('k', 'v'); \
                  print(connection.vendor, type(cache).__name__, cache.get('k'))";
    let run = project.xtask(&["run", "--", "python", "-c", script]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(stdout(&run).trim(), "postgresql RedisCache v");
    // Credentials are generated per run: neither the state nor the images' environment carries a URL with them.
    let state = std::fs::read_to_string(project.path("target/dockyard/state.json")).unwrap();
    for scheme in ["postgres://", "redis://"] {
        assert!(!state.contains(scheme), "state.json holds a {scheme} URL");
    }
    let image = runtime()
        .block_on(engine.image(&format!("{}:latest", project.name)))
        .unwrap()
        .unwrap();
    assert!(
        !format!("{:?}", image.env).contains("DATABASE_URL"),
        "the production image's environment names DATABASE_URL: {:?}",
        image.env
    );
    assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        Category::Fault,
        "the app needs PostgreSQL and Redis",
        "`cargo xtask check` on the sample app with [services.db] postgres 15 and [services.cache] redis 7.0",
        "exit 0; the builder's tests and smoke ran against services started on the run's network with per-run \
         credentials; smoke found the migrations in the service's database, held the worker process ready once its \
         heartbeat reached Redis and saw it stop gracefully; `run` saw postgresql and RedisCache; no URL in \
         state.json or the image; nothing left behind",
        test,
    );
    cleanup_images(&engine, &project);
}

#[test]
fn a_service_of_another_version_fails_the_builder_with_exit_6_and_its_log() {
    let test = "a_service_of_another_version_fails_the_builder_with_exit_6_and_its_log";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy_with("dockyard-it-service-version", "deploy.services.toml");
    // PostgreSQL 17 asked for, the 15 image given: the check of the running version refuses it.
    edit(
        &project,
        "deploy.toml",
        "kind = \"postgres\"\nversion = \"15\"",
        "kind = \"postgres\"\nversion = \"17\"\nimage = \"dockyard/postgres:15-bookworm\"",
    );
    let build = project.xtask(&["build"]);
    assert_eq!(build.status.code(), Some(6), "{}", stderr(&build));
    let log = stderr(&build);
    assert!(
        log.contains("`db`") && log.contains("17") && log.contains("15."),
        "the error names neither the service nor both versions:\n{log}"
    );
    assert!(log.contains("hint:"), "{log}");
    assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        Category::Fault,
        "a service runs another version than deploy.toml asks for",
        "[services.db] version = \"17\" with image = \"dockyard/postgres:15-bookworm\", `cargo xtask build`",
        "exit 6 before the tests run; the message names service `db`, 17 asked and the 15.x running, with a hint; \
         nothing left behind",
        test,
    );
    cleanup_images(&engine, &project);
}

#[test]
fn a_service_that_never_becomes_ready_in_smoke_exits_9_with_its_log_and_leaves_nothing() {
    let test =
        "a_service_that_never_becomes_ready_in_smoke_exits_9_with_its_log_and_leaves_nothing";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy_with("dockyard-it-service-ready", "deploy.services.toml");
    let tag = "dockyard-it/redis-swapped:latest";
    // The build runs against a working Redis under a test tag...
    build_test_image(&engine, tag, "FROM dockyard/redis:7.0-bookworm\n");
    edit(
        &project,
        "deploy.toml",
        "kind = \"redis\"\nversion = \"7.0\"",
        &format!(
            "kind = \"redis\"\nversion = \"7.0\"\nimage = \"{tag}\"\nready_timeout_seconds = 8"
        ),
    );
    let build = project.xtask(&["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    // ...then the tag is moved to an image whose server never starts: smoke uses it, and waits in vain.
    build_test_image(
        &engine,
        tag,
        // Dockyard passes Redis its command line, so the server is kept from starting through the entrypoint.
        "FROM dockyard/redis:7.0-bookworm\nENTRYPOINT [\"sh\", \"-c\", \"echo redis is not starting today; sleep 3600\"]\n",
    );
    let smoke = project.xtask(&["smoke"]);
    assert_eq!(smoke.status.code(), Some(9), "{}", stderr(&smoke));
    let log = stderr(&smoke);
    assert!(
        log.contains("`cache`") && log.contains("never became ready"),
        "{log}"
    );
    assert!(
        log.contains("redis is not starting today"),
        "the service's log tail is missing:\n{log}"
    );
    assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        Category::Fault,
        "a service never becomes ready in smoke",
        "the Redis image swapped after the build for one that never starts its server (ready_timeout_seconds = 8), \
         `cargo xtask smoke`",
        "exit 9 after 8 s; the message names service `cache`, says it never became ready and shows its log tail; \
         nothing left behind",
        test,
    );
    let _ = runtime().block_on(engine.remove_image(tag));
    cleanup_images(&engine, &project);
}

#[test]
fn ctrl_c_while_the_builder_s_services_start_exits_130_and_leaves_nothing() {
    let test = "ctrl_c_while_the_builder_s_services_start_exits_130_and_leaves_nothing";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy_with("dockyard-it-service-ctrl-c", "deploy.services.toml");
    let tag = "dockyard-it/redis-silent:latest";
    build_test_image(
        &engine,
        tag,
        "FROM dockyard/redis:7.0-bookworm\nENTRYPOINT [\"sh\", \"-c\", \"sleep 3600\"]\n",
    );
    edit(
        &project,
        "deploy.toml",
        "kind = \"redis\"\nversion = \"7.0\"",
        &format!("kind = \"redis\"\nversion = \"7.0\"\nimage = \"{tag}\""),
    );
    let stage = crate::faults::Stage {
        case: "ctrl_c_service_start",
        args: &["build"],
        marker: "for the tests on network",
        settle: std::time::Duration::from_secs(3),
        finished: "service cache ready in",
    };
    let outcome = crate::faults::interrupt(&project, &stage, &[]);
    let held = crate::faults::assert_interrupted(&engine, &project, &stage, outcome);
    dockyard_reliability::record(
        Category::Fault,
        "Ctrl-C while the builder's services start",
        "SIGINT to `cargo xtask build` 3 s after PostgreSQL and a Redis that never answers were started for the \
         tests",
        &held,
        test,
    );
    let _ = runtime().block_on(engine.remove_image(tag));
    cleanup_images(&engine, &project);
}
