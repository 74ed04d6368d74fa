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
pub use crate::start::{kept_volume_name, start};

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
    /// Where the services keep their data.
    pub data: DataVolumes<'a>,
}

/// Where the services of a run keep their data.
#[derive(Debug, Clone, Copy)]
pub enum DataVolumes<'a> {
    /// A volume per service and run, labelled with the run's labels and removed with the service (the builder's
    /// tests, smoke, `cargo xtask run`).
    PerRun,
    /// One volume per service kept between runs on purpose (`cargo xtask dev`'s database): named
    /// `<project>-<purpose>-<service>-data`, carrying `labels` (never the run's), the service's kind and version in
    /// [`KEPT_SERVICE_LABEL`] and its password in [`KEPT_PASSWORD_LABEL`] (generated when the volume is made: the
    /// server stores it in its data at first start). Never removed by [`Started::stop`].
    Kept {
        /// The volume's labels (the project's, and what finds it again for `cargo xtask clean --dev`).
        labels: &'a BTreeMap<String, String>,
    },
}

/// On a kept data volume: the service's kind and version (`postgres 15`) whose server wrote the data.
pub const KEPT_SERVICE_LABEL: &str = "dev.dockyard.service";
/// On a kept data volume: the password its server was initialised with. A development database on a private
/// network; the engine's owner can read the volume anyway.
pub const KEPT_PASSWORD_LABEL: &str = "dev.dockyard.service.password";

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
    /// The volume is a kept one ([`DataVolumes::Kept`]): stopping leaves it.
    pub(crate) keep_volume: bool,
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

    /// Each service's name and container, to follow their logs.
    pub fn containers(&self) -> Vec<(String, String)> {
        self.running
            .iter()
            .map(|running| (running.service.name.clone(), running.container.clone()))
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

/// The app's environment for services already running on kept data volumes (a one-off `cargo xtask dev -- ...`
/// joining a dev session): each service's variables with the password its volume's label keeps, the host its name
/// on the session's network.
pub async fn kept_env(
    engine: &Engine,
    project: &str,
    purpose: &str,
    services: &[&Service],
) -> Result<Vec<String>, ServiceError> {
    let mut env = Vec::new();
    for service in services {
        let volume = kept_volume_name(project, purpose, &service.name);
        let labels = engine.volume_labels(&volume).await?.unwrap_or_default();
        let Some(password) = labels.get(KEPT_PASSWORD_LABEL) else {
            return Err(ServiceError::KeptVolumeMismatch {
                service: service.name.clone(),
                volume,
                wanted: format!("{} {}", service.kind, service.version),
                found: None,
            });
        };
        let credentials = Credentials::new(service.kind, &service.name, password.clone());
        env.extend(service.env.iter().map(|(name, part)| {
            format!(
                "{name}={}",
                protocol::value(service.kind, &credentials, *part)
            )
        }));
    }
    Ok(env)
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
            .filter(|service| !service.keep_volume)
            .map(|service| service.volume.clone())
            .collect(),
    };
    match engine.remove_leftovers(&leftovers).await.into_iter().next() {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}
