//! The connection protocol of each kind: URLs and variables, container settings, and how answers are read.

use dockyard_config::{ServiceKind, ServiceValue};
use dockyard_services::protocol::{self, Credentials, Readiness};

fn credentials(kind: ServiceKind, host: &str) -> Credentials {
    Credentials::new(kind, host, "0123abcd".to_owned())
}

#[test]
fn each_part_of_each_kind_s_connection() {
    #[track_caller]
    fn check(kind: ServiceKind, host: &str, part: ServiceValue, expected: &str) {
        assert_eq!(
            protocol::value(kind, &credentials(kind, host), part),
            expected,
            "{kind} {part}"
        );
    }
    use ServiceKind::*;
    use ServiceValue::*;
    check(
        Postgres,
        "db",
        Url,
        "postgres://dockyard:0123abcd@db:5432/dockyard",
    );
    check(Postgres, "db", Host, "db");
    check(Postgres, "db", Port, "5432");
    check(Postgres, "db", User, "dockyard");
    check(Postgres, "db", Password, "0123abcd");
    check(Postgres, "db", Database, "dockyard");
    check(Redis, "cache", Url, "redis://:0123abcd@cache:6379/0");
    check(Redis, "cache", User, "default");
    check(Redis, "cache", Database, "0");
    check(
        Rabbitmq,
        "broker",
        Url,
        "amqp://dockyard:0123abcd@broker:5672//",
    );
    check(Rabbitmq, "broker", Port, "5672");
    check(Rabbitmq, "broker", Database, "/");
}

#[test]
fn the_container_gets_the_official_images_contract() {
    let postgres = credentials(ServiceKind::Postgres, "db");
    assert_eq!(
        protocol::container_env(ServiceKind::Postgres, &postgres),
        [
            "POSTGRES_USER=dockyard",
            "POSTGRES_PASSWORD=0123abcd",
            "POSTGRES_DB=dockyard"
        ]
    );
    assert!(protocol::container_cmd(ServiceKind::Postgres, &postgres).is_empty());
    let redis = credentials(ServiceKind::Redis, "cache");
    let cmd = protocol::container_cmd(ServiceKind::Redis, &redis);
    assert_eq!(cmd[..3], ["redis-server", "--requirepass", "0123abcd"]);
    let rabbitmq = credentials(ServiceKind::Rabbitmq, "broker");
    assert_eq!(
        protocol::container_env(ServiceKind::Rabbitmq, &rabbitmq),
        [
            "RABBITMQ_DEFAULT_USER=dockyard",
            "RABBITMQ_DEFAULT_PASS=0123abcd"
        ]
    );
    // RabbitMQ's CLI needs the server's Erlang cookie: its probes run as its user.
    assert_eq!(
        protocol::ready_probe(ServiceKind::Rabbitmq, &rabbitmq).user,
        Some("rabbitmq")
    );
    assert_eq!(
        protocol::ready_probe(ServiceKind::Postgres, &postgres).user,
        None
    );
}

#[test]
fn readiness_answers_are_read_per_kind() {
    #[track_caller]
    fn check(kind: ServiceKind, exit_code: i64, output: &str, expected: Readiness) {
        assert_eq!(
            protocol::readiness(kind, exit_code, output),
            expected,
            "{output:?}"
        );
    }
    check(ServiceKind::Redis, 0, "PONG\n", Readiness::Ready);
    check(
        ServiceKind::Redis,
        0,
        "AUTH failed: WRONGPASS invalid username-password pair\n",
        Readiness::PasswordRefused,
    );
    check(
        ServiceKind::Redis,
        0,
        "NOAUTH Authentication required.\n",
        Readiness::PasswordRefused,
    );
    check(
        ServiceKind::Redis,
        1,
        "Could not connect to Redis at 127.0.0.1:6379: Connection refused\n",
        Readiness::NotYet,
    );
    check(
        ServiceKind::Redis,
        0,
        "LOADING Redis is loading the dataset in memory\n",
        Readiness::NotYet,
    );
    check(ServiceKind::Postgres, 0, "", Readiness::Ready);
    check(ServiceKind::Postgres, 2, "", Readiness::NotYet);
    check(ServiceKind::Rabbitmq, 0, "", Readiness::Ready);
    check(
        ServiceKind::Rabbitmq,
        69,
        "Error: unable to perform an operation on node",
        Readiness::NotYet,
    );
}

#[test]
fn versions_and_logins_are_read_from_the_servers_answers() {
    #[track_caller]
    fn check(kind: ServiceKind, output: &str, expected: Option<&str>) {
        assert_eq!(
            protocol::running_version(kind, output).as_deref(),
            expected,
            "{output:?}"
        );
    }
    check(
        ServiceKind::Postgres,
        " 15.14 (Debian 15.14-0+deb12u1)\n",
        Some("15.14 (Debian 15.14-0+deb12u1)"),
    );
    check(
        ServiceKind::Redis,
        "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n",
        Some("7.0.15"),
    );
    check(ServiceKind::Rabbitmq, "3.10.8\n", Some("3.10.8"));
    check(
        ServiceKind::Postgres,
        "psql: error: connection refused\n",
        None,
    );
    assert!(protocol::login_refused(
        2,
        "psql: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"dockyard\""
    ));
    assert!(!protocol::login_refused(
        2,
        "psql: error: connection refused"
    ));
    assert!(!protocol::login_refused(0, ""));
}

#[test]
fn passwords_are_redacted() {
    let secrets = ["0123abcd".to_owned(), String::new()];
    assert_eq!(
        protocol::redact("redis-server --requirepass 0123abcd", &secrets),
        "redis-server --requirepass ***"
    );
}
