//! On a real engine: each kind starts, is ready and answers with the run's credentials; the faults (a container that
//! exits, a server that never answers, another version, a refused password) each fail with their own error and
//! leave nothing; four runs at once each get their own services.

use std::time::Instant;

use dockyard_config::{ServiceKind, ServiceValue};
use dockyard_reliability::Category;
use dockyard_services::{DataVolumes, ServiceError, ServiceImage, ServicesContext, Started};

use crate::support::{build_image, engine_or_skip, run_id, service, service_image, Run, PROJECT};

const FAULT_PREFIX: &str = "dockyard-services::it::engine::";

fn quiet(_: &str) {}

async fn start(
    engine: &dockyard_engine::Engine,
    run: &Run,
    services: &[ServiceImage<'_>],
) -> Result<Started, ServiceError> {
    start_for(engine, run, "it", DataVolumes::PerRun, services).await
}

/// Starts `services` for `run` under `purpose` with their data in `data`.
async fn start_for(
    engine: &dockyard_engine::Engine,
    run: &Run,
    purpose: &str,
    data: DataVolumes<'_>,
    services: &[ServiceImage<'_>],
) -> Result<Started, ServiceError> {
    let context = ServicesContext {
        engine,
        project: PROJECT,
        run_id: &run.id,
        purpose,
        network: &run.network,
        labels: &run.labels,
        on_progress: &quiet,
        data,
    };
    dockyard_services::start(&context, services).await
}

/// The value of `variable` in the app's environment.
fn variable(started: &Started, variable: &str) -> String {
    started
        .env()
        .iter()
        .find_map(|line| {
            line.strip_prefix(&format!("{variable}="))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no {variable} in {:?}", started.env()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redis_and_rabbitmq_start_ready_and_answer_with_the_run_s_credentials() {
    let test = "postgres_redis_and_rabbitmq_start_ready_and_answer_with_the_run_s_credentials";
    let Some(engine) = engine_or_skip(test).await else {
        return;
    };
    let postgres = service_image(&engine, ServiceKind::Postgres, "15").await;
    let redis = service_image(&engine, ServiceKind::Redis, "7.0").await;
    let rabbitmq = service_image(&engine, ServiceKind::Rabbitmq, "3.10").await;
    let db = service(
        "db",
        ServiceKind::Postgres,
        "15",
        60,
        &[
            ("DATABASE_URL", ServiceValue::Url),
            ("PGPASSWORD", ServiceValue::Password),
        ],
    );
    let cache = service(
        "cache",
        ServiceKind::Redis,
        "7.0",
        60,
        &[("REDIS_URL", ServiceValue::Url)],
    );
    let broker = service(
        "broker",
        ServiceKind::Rabbitmq,
        "3.10",
        120,
        &[("CELERY_BROKER_URL", ServiceValue::Url)],
    );
    let run = Run::create(&engine, &run_id("kinds")).await;
    let started_at = Instant::now();
    let started = start(
        &engine,
        &run,
        &[
            ServiceImage {
                service: &db,
                image: postgres,
            },
            ServiceImage {
                service: &cache,
                image: redis,
            },
            ServiceImage {
                service: &broker,
                image: rabbitmq,
            },
        ],
    )
    .await
    .unwrap();
    eprintln!(
        "all three ready {:.1} s after the start",
        started_at.elapsed().as_secs_f64()
    );
    for (service, ready) in started.ready_times() {
        eprintln!("service {service} ready in {} ms", ready.as_millis());
    }
    let database_url = variable(&started, "DATABASE_URL");
    assert!(
        database_url.starts_with("postgres://dockyard:")
            && database_url.ends_with("@db:5432/dockyard"),
        "{database_url}"
    );
    assert_eq!(variable(&started, "PGPASSWORD").len(), 32);
    assert!(variable(&started, "REDIS_URL").ends_with("@cache:6379/0"));
    assert!(variable(&started, "CELERY_BROKER_URL").ends_with("@broker:5672//"));
    // The URLs work on the run's network, by the services' names.
    let container = |name: &str| format!("{PROJECT}-it-{name}-{}", run.id);
    let psql = engine
        .exec(
            &container("db"),
            &[
                "psql".to_owned(),
                database_url.replace("postgres://", "postgresql://"),
                "-tAc".to_owned(),
                "select current_user || '@' || current_database()".to_owned(),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (psql.exit_code, psql.output.trim()),
        (0, "dockyard@dockyard"),
        "{psql:?}"
    );
    // redis-cli sends an empty user name for `redis://:PW@...` (redis-py, which Django and Celery use, does not):
    // name Redis's default user for it.
    let redis_url = variable(&started, "REDIS_URL").replace("redis://:", "redis://default:");
    let ping = engine
        .exec(
            &container("cache"),
            &[
                "redis-cli".to_owned(),
                "-u".to_owned(),
                redis_url,
                "--no-auth-warning".to_owned(),
                "PING".to_owned(),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(ping.output.trim(), "PONG", "{ping:?}");
    // Nothing the app has not migrated is mistaken for its database.
    let checks = started.database_check(&engine).await;
    assert_eq!(checks.len(), 1);
    assert!(!checks[0].passed, "{checks:?}");
    let secrets = started.secrets();
    let tails = started.log_tails(&engine, 50).await;
    for (name, tail) in &tails {
        for secret in &secrets {
            assert!(
                !tail.join("\n").contains(secret.as_str()),
                "the log of {name} shows a password"
            );
        }
    }
    started.stop(&engine).await.unwrap();
    run.finish(&engine).await;
}

/// Starts one service from `image` and returns its error.
async fn failure(test: &str, image: &str, service: &dockyard_config::Service) -> ServiceError {
    let engine = engine_or_skip(test).await.unwrap();
    let run = Run::create(&engine, &run_id(test)).await;
    let error = start(
        &engine,
        &run,
        &[ServiceImage {
            service,
            image: image.to_owned(),
        }],
    )
    .await
    .expect_err("the service should fail");
    eprintln!("{error}\nhint: {}", error.hint().unwrap_or_default());
    run.finish(&engine).await;
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_fault_fails_with_its_own_error_and_leaves_nothing() {
    let test = "each_service_fault_fails_with_its_own_error_and_leaves_nothing";
    let Some(engine) = engine_or_skip(test).await else {
        return;
    };
    let redis = service_image(&engine, ServiceKind::Redis, "7.0").await;
    let postgres = service_image(&engine, ServiceKind::Postgres, "15").await;

    // A container that exits before it is ready.
    let exits = "dockyard-it/redis-exits:latest";
    build_image(
        &engine,
        exits,
        &format!(
            "FROM {redis}\nENTRYPOINT [\"sh\", \"-c\", \"echo the server cannot start; exit 3\"]\n"
        ),
    )
    .await;
    let cache = service("cache", ServiceKind::Redis, "7.0", 30, &[]);
    let error = failure("fault_exits", exits, &cache).await;
    assert!(
        matches!(&error, ServiceError::FailedToStart { exit_code: 3, tail, .. } if tail.iter().any(|line| line.contains("cannot start"))),
        "{error:?}"
    );
    dockyard_reliability::record(Category::Fault, "a service's container exits before it is ready", "[services.cache] from a Redis image whose entrypoint prints a line and exits 3", "ServiceError::FailedToStart naming `cache`, exit code 3 and its log tail; its container and volume removed", &format!("{FAULT_PREFIX}{test}"));

    // A server that never answers.
    let silent = "dockyard-it/redis-silent:latest";
    // Dockyard passes Redis its command line: the entrypoint keeps the server from starting.
    build_image(
        &engine,
        silent,
        &format!("FROM {redis}\nENTRYPOINT [\"sh\", \"-c\", \"sleep 3600\"]\n"),
    )
    .await;
    let slow = service("cache", ServiceKind::Redis, "7.0", 3, &[]);
    let started = Instant::now();
    let error = failure("fault_never_ready", silent, &slow).await;
    assert!(
        matches!(
            &error,
            ServiceError::NeverReady {
                waited_seconds: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        started.elapsed().as_secs() < 25,
        "gave up after {:?}",
        started.elapsed()
    );
    assert!(error.hint().unwrap().contains("ready_timeout_seconds"));
    dockyard_reliability::record(Category::Fault, "a service never becomes ready", "[services.cache] ready_timeout_seconds = 3 on a Redis image that only sleeps", "ServiceError::NeverReady after 3 s with the last answer of `redis-cli PING` and a hint to raise ready_timeout_seconds; nothing left", &format!("{FAULT_PREFIX}{test}"));

    // Another version than asked for.
    let newer = service("cache", ServiceKind::Redis, "8.0", 30, &[]);
    let error = failure("fault_version", &redis, &newer).await;
    assert!(
        matches!(&error, ServiceError::WrongVersion { asked, running, .. } if asked == "8.0" && running.starts_with("7.0.")),
        "{error:?}"
    );
    assert!(
        error.hint().unwrap().contains("version = \"7\""),
        "{:?}",
        error.hint()
    );
    dockyard_reliability::record(Category::Fault, "a service runs another version", "[services.cache] version = \"8.0\" on Dockyard's Redis 7.0 image", "ServiceError::WrongVersion: 8.0 asked, 7.0.x running, with the `version = \"7\"` hint; nothing left", &format!("{FAULT_PREFIX}{test}"));

    // An image that ignores the run's password.
    let stubborn = "dockyard-it/postgres-own-password:latest";
    build_image(&engine, stubborn, &format!("FROM {postgres}\nENTRYPOINT [\"sh\", \"-c\", \"POSTGRES_PASSWORD=its-own-password exec /usr/local/bin/dockyard-service-entrypoint \\\"$@\\\"\", \"--\"]\nCMD [\"postgres\", \"-c\", \"listen_addresses=*\"]\n")).await;
    let db = service("db", ServiceKind::Postgres, "15", 60, &[]);
    let error = failure("fault_password", stubborn, &db).await;
    assert!(
        matches!(&error, ServiceError::WrongPassword { answer, .. } if answer.contains("password authentication failed")),
        "{error:?}"
    );
    assert!(error.hint().unwrap().contains("POSTGRES_PASSWORD"));
    dockyard_reliability::record(Category::Fault, "a service refuses the run's password", "[services.db] from a PostgreSQL image whose entrypoint sets a password of its own", "ServiceError::WrongPassword with psql's `password authentication failed` and a hint naming POSTGRES_PASSWORD; nothing left", &format!("{FAULT_PREFIX}{test}"));

    for tag in [exits, silent, stubborn] {
        let _ = engine.remove_image(tag).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_runs_at_once_each_get_their_own_services() {
    let test = "four_runs_at_once_each_get_their_own_services";
    let Some(engine) = engine_or_skip(test).await else {
        return;
    };
    let redis = service_image(&engine, ServiceKind::Redis, "7.0").await;
    let cache = service(
        "cache",
        ServiceKind::Redis,
        "7.0",
        60,
        &[("REDIS_URL", ServiceValue::Url)],
    );
    let mut runs = Vec::new();
    for index in 0..4 {
        runs.push(Run::create(&engine, &run_id(&format!("four-{index}"))).await);
    }
    let images: Vec<[ServiceImage<'_>; 1]> = runs
        .iter()
        .map(|_| {
            [ServiceImage {
                service: &cache,
                image: redis.clone(),
            }]
        })
        .collect();
    let started = futures_util::future::join_all(
        runs.iter()
            .zip(&images)
            .map(|(run, image)| start(&engine, run, image)),
    )
    .await;
    let started: Vec<Started> = started.into_iter().map(Result::unwrap).collect();
    let urls: std::collections::BTreeSet<String> = started
        .iter()
        .map(|one| variable(one, "REDIS_URL"))
        .collect();
    assert_eq!(urls.len(), 4, "the runs share a password: {urls:?}");
    for run in &runs {
        let label = format!("{}={}", dockyard_engine::RUN_LABEL, run.id);
        let found = engine.find_labelled(&[&label]).await.unwrap();
        assert_eq!(
            (found.containers.len(), found.volumes.len()),
            (1, 1),
            "{found:?}"
        );
    }
    for one in started {
        one.stop(&engine).await.unwrap();
    }
    for run in runs {
        run.finish(&engine).await;
    }
    dockyard_reliability::record(
        Category::Load,
        "four runs start their services at once",
        "four `start` calls at the same time, each with [services.cache] on its own network",
        "each run got its own container, volume and password, all ready; each stop left nothing",
        &format!("{FAULT_PREFIX}{test}"),
    );
}

/// Starts `services` on kept data volumes (`cargo xtask dev`'s way) for `run`.
async fn start_kept(
    engine: &dockyard_engine::Engine,
    run: &Run,
    kept: &std::collections::BTreeMap<String, String>,
    services: &[ServiceImage<'_>],
) -> Result<Started, ServiceError> {
    start_for(
        engine,
        run,
        "kept",
        DataVolumes::Kept { labels: kept },
        services,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_volume_keeps_the_database_and_its_password_and_refuses_another_version() {
    let test = "a_kept_volume_keeps_the_database_and_its_password_and_refuses_another_version";
    let Some(engine) = engine_or_skip(test).await else {
        return;
    };
    let postgres = service_image(&engine, ServiceKind::Postgres, "15").await;
    let db = service(
        "db",
        ServiceKind::Postgres,
        "15",
        60,
        &[("DATABASE_URL", ServiceValue::Url)],
    );
    let volume = dockyard_services::kept_volume_name(PROJECT, "kept", "db");
    let kept = std::collections::BTreeMap::from([(
        dockyard_engine::PROJECT_LABEL.to_owned(),
        PROJECT.to_owned(),
    )]);
    let _ = engine
        .remove_leftovers(&dockyard_engine::Leftovers {
            volumes: vec![volume.clone()],
            ..Default::default()
        })
        .await;
    let images = [ServiceImage {
        service: &db,
        image: postgres.clone(),
    }];
    let psql = |started: &Started, run: &Run, sql: &str| {
        let url = variable(started, "DATABASE_URL").replace("postgres://", "postgresql://");
        let container = format!("{PROJECT}-kept-db-{}", run.id);
        let sql = sql.to_owned();
        let engine = engine.clone();
        async move {
            engine
                .exec(
                    &container,
                    &["psql".to_owned(), url, "-tAc".to_owned(), sql],
                    None,
                )
                .await
                .unwrap()
        }
    };

    // A first session writes a row; stopping leaves the volume.
    let first = Run::create(&engine, &run_id("kept-first")).await;
    let started = start_kept(&engine, &first, &kept, &images).await.unwrap();
    let wrote = psql(
        &started,
        &first,
        "create table kept (note text); insert into kept values ('from the first session')",
    )
    .await;
    assert_eq!(wrote.exit_code, 0, "{wrote:?}");
    let first_url = variable(&started, "DATABASE_URL");
    started.stop(&engine).await.unwrap();
    first.finish(&engine).await;
    let labels = engine
        .volume_labels(&volume)
        .await
        .unwrap()
        .expect("the kept volume stays");
    assert_eq!(
        labels
            .get(dockyard_services::KEPT_SERVICE_LABEL)
            .map(String::as_str),
        Some("postgres 15")
    );

    // The next session logs in with the password the volume keeps and reads the row.
    let second = Run::create(&engine, &run_id("kept-second")).await;
    let started = start_kept(&engine, &second, &kept, &images).await.unwrap();
    assert_eq!(variable(&started, "DATABASE_URL"), first_url);
    let read = psql(&started, &second, "select note from kept").await;
    assert_eq!(
        (read.exit_code, read.output.trim()),
        (0, "from the first session"),
        "{read:?}"
    );
    let env = dockyard_services::kept_env(&engine, PROJECT, "kept", &[&db])
        .await
        .unwrap();
    assert_eq!(env, vec![format!("DATABASE_URL={first_url}")]);
    started.stop(&engine).await.unwrap();
    second.finish(&engine).await;

    // deploy.toml now asks for PostgreSQL 17: the volume PostgreSQL 15 wrote is refused before anything starts.
    let newer = service("db", ServiceKind::Postgres, "17", 60, &[]);
    let third = Run::create(&engine, &run_id("kept-third")).await;
    let error = start_kept(
        &engine,
        &third,
        &kept,
        &[ServiceImage {
            service: &newer,
            image: postgres,
        }],
    )
    .await
    .expect_err("another version on the kept data");
    third.finish(&engine).await;
    assert!(
        matches!(&error, ServiceError::KeptVolumeMismatch { wanted, found: Some(found), .. } if wanted == "postgres 17" && found == "postgres 15"),
        "{error:?}"
    );
    assert!(
        error.hint().unwrap().contains("clean --dev"),
        "{:?}",
        error.hint()
    );
    dockyard_reliability::record(
        Category::Fault,
        "a kept dev data volume written by another version",
        "[services.db] version = \"17\" on the kept volume PostgreSQL 15 initialised in an earlier dev session",
        &format!("{error}"),
        &format!("{FAULT_PREFIX}{test}"),
    );
    let _ = engine
        .remove_leftovers(&dockyard_engine::Leftovers {
            volumes: vec![volume],
            ..Default::default()
        })
        .await;
}
