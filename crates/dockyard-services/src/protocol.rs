//! How each kind of service is run and asked: its container's environment and command, the credentials of a run, the
//! connection URL and variables the app receives, and the commands (with how to read their answers) that tell
//! whether it is ready, accepts the run's password, which version it runs, and whether the app migrated into it.
//!
//! Pure: no engine. The contract is the official images' (`POSTGRES_PASSWORD`, `redis-server --requirepass`,
//! `RABBITMQ_DEFAULT_PASS`), which Dockyard's own images (`docker/services/`) follow too.

use dockyard_config::{ServiceKind, ServiceValue};

/// The user every service gets for a run.
pub const USER: &str = "dockyard";

/// The credentials and names of one service for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The service's host name on the run's network (its table name).
    pub host: String,
    /// The user (Redis: `default`, its ACL user).
    pub user: String,
    /// The password, generated for the run.
    pub password: String,
    /// The database (PostgreSQL), database number (Redis) or virtual host (RabbitMQ).
    pub database: String,
}

impl Credentials {
    /// The credentials of service `host` of `kind` with `password`.
    pub fn new(kind: ServiceKind, host: &str, password: String) -> Credentials {
        let (user, database) = match kind {
            ServiceKind::Postgres => (USER, USER),
            ServiceKind::Redis => ("default", "0"),
            ServiceKind::Rabbitmq => (USER, "/"),
        };
        Credentials {
            host: host.to_owned(),
            user: user.to_owned(),
            password,
            database: database.to_owned(),
        }
    }
}

/// The connection URL the app receives: `postgres://dockyard:PW@db:5432/dockyard`, `redis://:PW@cache:6379/0`,
/// `amqp://dockyard:PW@broker:5672//` (the virtual host `/`).
pub fn url(kind: ServiceKind, credentials: &Credentials) -> String {
    let Credentials {
        host,
        user,
        password,
        database,
    } = credentials;
    let port = kind.port();
    let scheme = kind.url_scheme();
    match kind {
        ServiceKind::Redis => format!("{scheme}://:{password}@{host}:{port}/{database}"),
        ServiceKind::Postgres | ServiceKind::Rabbitmq => {
            format!("{scheme}://{user}:{password}@{host}:{port}/{database}")
        }
    }
}

/// [`url`] without its database part: `redis://:PW@cache:6379`, for settings that append `/0` themselves.
pub fn server_url(kind: ServiceKind, credentials: &Credentials) -> String {
    let full = url(kind, credentials);
    let suffix = format!("/{}", credentials.database);
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// The value an app variable receives for `part` of the service's connection.
pub fn value(kind: ServiceKind, credentials: &Credentials, part: ServiceValue) -> String {
    match part {
        ServiceValue::Url => url(kind, credentials),
        ServiceValue::ServerUrl => server_url(kind, credentials),
        ServiceValue::Host => credentials.host.clone(),
        ServiceValue::Port => kind.port().to_string(),
        ServiceValue::User => credentials.user.clone(),
        ServiceValue::Password => credentials.password.clone(),
        ServiceValue::Database => credentials.database.clone(),
    }
}

/// The service container's environment (`KEY=value`).
pub fn container_env(kind: ServiceKind, credentials: &Credentials) -> Vec<String> {
    match kind {
        ServiceKind::Postgres => vec![
            format!("POSTGRES_USER={}", credentials.user),
            format!("POSTGRES_PASSWORD={}", credentials.password),
            format!("POSTGRES_DB={}", credentials.database),
        ],
        ServiceKind::Redis => Vec::new(),
        ServiceKind::Rabbitmq => vec![
            format!("RABBITMQ_DEFAULT_USER={}", credentials.user),
            format!("RABBITMQ_DEFAULT_PASS={}", credentials.password),
        ],
    }
}

/// The service container's command; empty for the image's own.
pub fn container_cmd(kind: ServiceKind, credentials: &Credentials) -> Vec<String> {
    match kind {
        ServiceKind::Redis => [
            "redis-server",
            "--requirepass",
            &credentials.password,
            "--dir",
            kind.data_dir(),
            "--protected-mode",
            "no",
        ]
        .map(str::to_owned)
        .to_vec(),
        ServiceKind::Postgres | ServiceKind::Rabbitmq => Vec::new(),
    }
}

/// The signal that stops the service gracefully, when not SIGTERM: PostgreSQL's fast shutdown is SIGINT (sessions
/// ended, the data folder left consistent), as the official image's `STOPSIGNAL` says.
pub fn stop_signal(kind: ServiceKind) -> Option<&'static str> {
    (kind == ServiceKind::Postgres).then_some("SIGINT")
}

/// A command to run in the service's container, as `user` when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The argv.
    pub cmd: Vec<String>,
    /// The user to run it as (RabbitMQ's CLI needs the server's Erlang cookie, so its user).
    pub user: Option<&'static str>,
}

fn probe(kind: ServiceKind, cmd: &[&str]) -> Probe {
    Probe {
        cmd: cmd.iter().map(|part| (*part).to_owned()).collect(),
        user: (kind == ServiceKind::Rabbitmq).then_some("rabbitmq"),
    }
}

/// The URL of the service from inside its own container (PostgreSQL over TCP, so the password is checked).
fn local_url(kind: ServiceKind, credentials: &Credentials) -> String {
    url(
        kind,
        &Credentials {
            host: "127.0.0.1".to_owned(),
            ..credentials.clone()
        },
    )
}

/// The readiness probe: `pg_isready`, `PING`, the broker's port check.
pub fn ready_probe(kind: ServiceKind, credentials: &Credentials) -> Probe {
    let port = kind.port().to_string();
    match kind {
        ServiceKind::Postgres => probe(kind, &["pg_isready", "-q", "-h", "127.0.0.1", "-p", &port]),
        ServiceKind::Redis => probe(
            kind,
            &[
                "redis-cli",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-a",
                &credentials.password,
                "--no-auth-warning",
                "PING",
            ],
        ),
        ServiceKind::Rabbitmq => probe(
            kind,
            &["rabbitmq-diagnostics", "-q", "check_port_connectivity"],
        ),
    }
}

/// What a readiness probe's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready for the next checks.
    Ready,
    /// The server answers but refuses the run's password (Redis answers `PING` only with it).
    PasswordRefused,
    /// Not yet.
    NotYet,
}

/// Reads a readiness probe's exit code and output.
pub fn readiness(kind: ServiceKind, exit_code: i64, output: &str) -> Readiness {
    match kind {
        ServiceKind::Redis if output.contains("PONG") => Readiness::Ready,
        ServiceKind::Redis if refuses_password(output) => Readiness::PasswordRefused,
        ServiceKind::Redis => Readiness::NotYet,
        ServiceKind::Postgres | ServiceKind::Rabbitmq if exit_code == 0 => Readiness::Ready,
        ServiceKind::Postgres | ServiceKind::Rabbitmq => Readiness::NotYet,
    }
}

fn refuses_password(output: &str) -> bool {
    [
        "WRONGPASS",
        "NOAUTH",
        "invalid password",
        "password authentication failed",
        "failed to authenticate",
    ]
    .iter()
    .any(|marker| output.contains(marker))
}

/// The probe that logs in with the run's password (PostgreSQL, RabbitMQ); Redis's readiness probe already did.
pub fn login_probe(kind: ServiceKind, credentials: &Credentials) -> Option<Probe> {
    match kind {
        ServiceKind::Postgres => Some(probe(
            kind,
            &["psql", &local_url(kind, credentials), "-tAc", "select 1"],
        )),
        ServiceKind::Redis => None,
        ServiceKind::Rabbitmq => Some(probe(
            kind,
            &[
                "rabbitmqctl",
                "-q",
                "authenticate_user",
                &credentials.user,
                &credentials.password,
            ],
        )),
    }
}

/// Whether a login probe's answer is a refused password (any other failure is "not yet").
pub fn login_refused(exit_code: i64, output: &str) -> bool {
    exit_code != 0 && refuses_password(output)
}

/// The probe that asks the server its version.
pub fn version_probe(kind: ServiceKind, credentials: &Credentials) -> Probe {
    match kind {
        ServiceKind::Postgres => probe(
            kind,
            &[
                "psql",
                &local_url(kind, credentials),
                "-tAc",
                "show server_version",
            ],
        ),
        ServiceKind::Redis => probe(
            kind,
            &[
                "redis-cli",
                "-h",
                "127.0.0.1",
                "-a",
                &credentials.password,
                "--no-auth-warning",
                "INFO",
                "server",
            ],
        ),
        ServiceKind::Rabbitmq => probe(kind, &["rabbitmq-diagnostics", "-q", "server_version"]),
    }
}

/// The version in a version probe's output: `15.14 (Debian 15.14-0+deb12u1)`, `7.0.15`, `3.10.8`.
pub fn running_version(kind: ServiceKind, output: &str) -> Option<String> {
    let line = match kind {
        ServiceKind::Redis => output
            .lines()
            .find_map(|line| line.trim().strip_prefix("redis_version:"))?,
        ServiceKind::Postgres | ServiceKind::Rabbitmq => output
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with(|c: char| c.is_ascii_digit()))?,
    };
    Some(line.trim().to_owned())
}

/// The probe that counts Django's applied migrations in the service's database (PostgreSQL only).
pub fn migrations_probe(kind: ServiceKind, credentials: &Credentials) -> Option<Probe> {
    (kind == ServiceKind::Postgres).then(|| {
        probe(
            kind,
            &[
                "psql",
                &local_url(kind, credentials),
                "-tAc",
                "select count(*) from django_migrations",
            ],
        )
    })
}

/// `text` with every password replaced by `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "***")
        })
}
