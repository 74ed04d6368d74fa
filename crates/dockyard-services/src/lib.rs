//! Backing services (PostgreSQL, Redis, RabbitMQ) on a run's private network: each started from its image with a
//! labelled data volume and credentials generated for the run, awaited until ready, its password and version
//! checked; the app's connection variables; the check that the app migrated into the service's database; the stop.
//!
//! The caller creates the network and makes sure of the images (the pipeline's base step); everything created here
//! carries the caller's labels, so the caller's label sweep removes it whatever happens. Everything talks to the
//! engine through `dockyard-engine`: no bind mount, no docker CLI, so a remote engine works unchanged.
#![warn(missing_docs)]

mod error;
pub mod protocol;
mod start;

use std::collections::BTreeMap;
use std::time::Duration;

use dockyard_config::{Service, ServiceKind};
use dockyard_engine::{Engine, Leftovers};

pub use crate::error::ServiceError;
use crate::protocol::Credentials;
pub use crate::start::start;

/// How long a service gets to stop gracefully before it is killed.
const STOP_TIMEOUT_SECONDS: u32 = 10;

/// Where the services of one run go, and what their containers carry.
pub struct ServicesContext<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The project name: the first part of every container and volume name.
    pub project: &'a str,
    /// The run id: the last part of every name.
    pub run_id: &'a str,
    /// What the services are for (`build`, `smoke`, `run`): part of the names, so two purposes never collide.
    pub purpose: &'a str,
    /// The run's network, created by the caller; each service answers there to its name.
    pub network: &'a str,
    /// The run's labels, put on every container and volume.
    pub labels: &'a BTreeMap<String, String>,
    /// Where progress lines go.
    pub on_progress: &'a (dyn Fn(&str) + Send + Sync),
}

/// A service and the image to run it from (present in the engine).
pub struct ServiceImage<'a> {
    /// The service from deploy.toml.
    pub service: &'a Service,
    /// The image id or reference.
    pub image: String,
}

/// One service, started and ready.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) service: Service,
    pub(crate) container: String,
    pub(crate) volume: String,
    pub(crate) credentials: Credentials,
    pub(crate) ready_after: Duration,
}

/// The services of one run, each started, ready, and checked.
#[derive(Debug)]
pub struct Started {
    running: Vec<Running>,
}

/// Whether the app's migrations are in a PostgreSQL service's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseCheck {
    /// The service's name.
    pub service: String,
    /// True when `django_migrations` has rows there.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

impl Started {
    /// The app's environment (`KEY=value`): each variable of each service's `env` with its part of the connection.
    pub fn env(&self) -> Vec<String> {
        self.running
            .iter()
            .flat_map(|running| {
                running.service.env.iter().map(|(name, part)| {
                    format!(
                        "{name}={}",
                        protocol::value(running.service.kind, &running.credentials, *part)
                    )
                })
            })
            .collect()
    }

    /// The run's passwords, so callers can redact them from what they print.
    pub fn secrets(&self) -> Vec<String> {
        self.running
            .iter()
            .map(|running| running.credentials.password.clone())
            .collect()
    }

    /// For each service, from starting its container to its readiness check passing.
    pub fn ready_times(&self) -> Vec<(String, Duration)> {
        self.running
            .iter()
            .map(|running| (running.service.name.clone(), running.ready_after))
            .collect()
    }

    /// For each PostgreSQL service: whether `django_migrations` has rows in its database, which proves the app's
    /// migrations ran there and not in a database of its own.
    pub async fn database_check(&self, engine: &Engine) -> Vec<DatabaseCheck> {
        let mut checks = Vec::new();
        for running in &self.running {
            let Some(probe) =
                protocol::migrations_probe(running.service.kind, &running.credentials)
            else {
                continue;
            };
            let (passed, detail) = match engine
                .exec(&running.container, &probe.cmd, probe.user)
                .await
            {
                Ok(answer) => {
                    let text = protocol::redact(answer.output.trim(), &self.secrets());
                    match text.parse::<u64>() {
                        Ok(rows) if answer.exit_code == 0 && rows > 0 => {
                            (true, format!("{rows} applied migrations in its database"))
                        }
                        _ => (
                            false,
                            format!("no applied migrations in its database: {text}"),
                        ),
                    }
                }
                Err(error) => (false, error.to_string()),
            };
            checks.push(DatabaseCheck {
                service: running.service.name.clone(),
                passed,
                detail,
            });
        }
        checks
    }

    /// The last `lines` lines of each service's log, by service name (`service db`), passwords redacted.
    pub async fn log_tails(&self, engine: &Engine, lines: usize) -> BTreeMap<String, Vec<String>> {
        let secrets = self.secrets();
        let mut tails = BTreeMap::new();
        for running in &self.running {
            let tail = engine
                .logs_tail(&running.container, lines)
                .await
                .unwrap_or_default()
                .iter()
                .map(|line| protocol::redact(line, &secrets))
                .collect();
            tails.insert(format!("service {}", running.service.name), tail);
        }
        tails
    }

    /// Stops every service gracefully, then removes its container and data volume.
    pub async fn stop(self, engine: &Engine) -> Result<(), ServiceError> {
        remove(engine, &self.running).await
    }

    /// The kinds started, for messages.
    pub fn kinds(&self) -> Vec<ServiceKind> {
        self.running
            .iter()
            .map(|running| running.service.kind)
            .collect()
    }
}

/// Stops and removes the containers and volumes of `running`.
pub(crate) async fn remove(engine: &Engine, running: &[Running]) -> Result<(), ServiceError> {
    for service in running {
        engine
            .stop_container(&service.container, STOP_TIMEOUT_SECONDS)
            .await?;
    }
    let leftovers = Leftovers {
        containers: running
            .iter()
            .map(|service| service.container.clone())
            .collect(),
        networks: Vec::new(),
        volumes: running
            .iter()
            .map(|service| service.volume.clone())
            .collect(),
    };
    match engine.remove_leftovers(&leftovers).await.into_iter().next() {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}
