//! [`start`]: every service of a run at once, each with its data volume and credentials, awaited until ready, its
//! password and version checked; on any failure, what was started is removed before the error returns.

use std::time::{Duration, Instant};

use dockyard_config::service_images::running_version_matches;
use dockyard_config::Service;
use dockyard_engine::{ContainerSpec, Engine, VolumeMount};

use crate::protocol::{self, Credentials, Readiness};
use crate::{
    remove, DataVolumes, Running, ServiceError, ServiceImage, ServicesContext, Started,
    KEPT_PASSWORD_LABEL, KEPT_SERVICE_LABEL,
};

/// How long to wait between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// How many lines of a service's log an error carries.
const TAIL_LINES: usize = 25;

/// Starts `services` on the context's network, all at once, and returns when each is ready and checked. On a
/// failure every service of this call is stopped and removed before the error returns.
pub async fn start(
    context: &ServicesContext<'_>,
    services: &[ServiceImage<'_>],
) -> Result<Started, ServiceError> {
    let results = futures_util::future::join_all(
        services
            .iter()
            .map(|image| start_one(context, image.service, &image.image)),
    )
    .await;
    let mut running = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(service) => running.push(service),
            Err((error, created)) => {
                running.extend(created);
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        None => Ok(Started { running }),
        Some(error) => {
            // The error is what the user needs; a failure to remove is left to the caller's label sweep.
            let _ = remove(context.engine, &running).await;
            Err(error)
        }
    }
}

/// A failure, with what was created for the service (to remove).
type Failed = (ServiceError, Option<Running>);

/// A random password of 32 hex digits: safe in URLs and on command lines.
fn password() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(ServiceError::Randomness)?;
    Ok(hex::encode(bytes))
}

async fn start_one(
    context: &ServicesContext<'_>,
    service: &Service,
    image: &str,
) -> Result<Running, Failed> {
    let engine = context.engine;
    let name = format!(
        "{}-{}-{}-{}",
        context.project, context.purpose, service.name, context.run_id
    );
    let (volume, password, keep_volume) = match context.data {
        DataVolumes::PerRun => {
            let volume = format!("{name}-data");
            engine
                .ensure_volume(&volume, context.labels)
                .await
                .map_err(|error| (error.into(), None))?;
            (volume, password().map_err(|error| (error, None))?, false)
        }
        DataVolumes::Kept { labels } => {
            let volume = kept_volume_name(context.project, context.purpose, &service.name);
            let password = kept_volume(engine, service, &volume, labels)
                .await
                .map_err(|error| (error, None))?;
            (volume, password, true)
        }
    };
    let credentials = Credentials::new(service.kind, &service.name, password);
    let spec = ContainerSpec {
        name: Some(name.clone()),
        image: image.to_owned(),
        cmd: protocol::container_cmd(service.kind, &credentials),
        env: protocol::container_env(service.kind, &credentials),
        labels: context.labels.clone(),
        volumes: vec![VolumeMount {
            volume: volume.clone(),
            target: service.kind.data_dir().to_owned(),
        }],
        network: Some(context.network.to_owned()),
        network_aliases: vec![service.name.clone()],
        stop_signal: protocol::stop_signal(service.kind).map(str::to_owned),
        ..ContainerSpec::default()
    };
    let created = |container: String| Running {
        service: service.clone(),
        container,
        volume: volume.clone(),
        keep_volume,
        credentials: credentials.clone(),
        ready_after: Duration::ZERO,
    };
    let container = match engine.create_container(&spec).await {
        Ok(container) => container,
        Err(error) => {
            let _ = engine
                .remove_leftovers(&dockyard_engine::Leftovers {
                    volumes: (!keep_volume).then(|| volume.clone()).into_iter().collect(),
                    ..dockyard_engine::Leftovers::default()
                })
                .await;
            return Err((error.into(), None));
        }
    };
    let mut running = created(container);
    let started = Instant::now();
    (context.on_progress)(&format!(
        "service {} ({} {}) starting from {image}",
        service.name, service.kind, service.version
    ));
    let outcome = async {
        engine.start_container(&running.container).await?;
        wait_until_ready(engine, service, image, &running, started).await?;
        running.ready_after = started.elapsed();
        check(engine, service, image, &running).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(running),
        Err(error) => Err((error, Some(running))),
    }
}

/// The last lines of the service's log, passwords redacted.
async fn tail(engine: &Engine, running: &Running) -> Vec<String> {
    engine
        .logs_tail(&running.container, TAIL_LINES)
        .await
        .unwrap_or_default()
        .iter()
        .map(|line| protocol::redact(line, std::slice::from_ref(&running.credentials.password)))
        .collect()
}

/// Probes until the service is ready; fails when its container exits, it refuses the password, or time runs out.
async fn wait_until_ready(
    engine: &Engine,
    service: &Service,
    image: &str,
    running: &Running,
    started: Instant,
) -> Result<(), ServiceError> {
    let timeout = Duration::from_secs(service.ready_timeout_seconds);
    let probe = protocol::ready_probe(service.kind, &running.credentials);
    let secrets = std::slice::from_ref(&running.credentials.password);
    loop {
        let state = engine.container_state(&running.container).await?;
        if state.status.has_ended() {
            return Err(ServiceError::FailedToStart {
                service: service.name.clone(),
                kind: service.kind,
                version: service.version.clone(),
                image: image.to_owned(),
                exit_code: state.exit_code,
                tail: tail(engine, running).await,
            });
        }
        let last_answer = match engine
            .exec(&running.container, &probe.cmd, probe.user)
            .await
        {
            Ok(answer) => {
                let text = protocol::redact(answer.output.trim(), secrets);
                match protocol::readiness(service.kind, answer.exit_code, &answer.output) {
                    Readiness::Ready => return Ok(()),
                    Readiness::PasswordRefused => {
                        return Err(ServiceError::WrongPassword {
                            service: service.name.clone(),
                            kind: service.kind,
                            answer: text,
                            tail: tail(engine, running).await,
                        })
                    }
                    Readiness::NotYet if text.is_empty() => {
                        format!("exit code {}", answer.exit_code)
                    }
                    Readiness::NotYet => format!("exit code {}: {text}", answer.exit_code),
                }
            }
            // The container may have stopped between the state and the probe: the next round says.
            Err(error) if error.is_unreachable() => return Err(error.into()),
            Err(error) => error.to_string(),
        };
        if started.elapsed() >= timeout {
            return Err(ServiceError::NeverReady {
                service: service.name.clone(),
                kind: service.kind,
                version: service.version.clone(),
                waited_seconds: timeout.as_secs(),
                last_answer,
                tail: tail(engine, running).await,
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// The kept data volume of service `service` for `purpose` (`dev`): `<project>-<purpose>-<service>-data`.
pub fn kept_volume_name(project: &str, purpose: &str, service: &str) -> String {
    format!("{project}-{purpose}-{service}-data")
}

/// Makes sure of the kept volume `volume` and returns the password its server was (or will be) initialised with:
/// read from the volume's label, or generated and written there when the volume is made now. A volume whose data
/// another kind or version of server wrote is refused, since that server would not start on it.
async fn kept_volume(
    engine: &Engine,
    service: &Service,
    volume: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<String, ServiceError> {
    let written_by = format!("{} {}", service.kind, service.version);
    if let Some(found) = engine.volume_labels(volume).await? {
        return match (
            found.get(KEPT_SERVICE_LABEL),
            found.get(KEPT_PASSWORD_LABEL),
        ) {
            (Some(made_by), Some(password)) if *made_by == written_by => Ok(password.clone()),
            (made_by, _) => Err(ServiceError::KeptVolumeMismatch {
                service: service.name.clone(),
                volume: volume.to_owned(),
                wanted: written_by,
                found: made_by.cloned(),
            }),
        };
    }
    let password = password()?;
    let mut labels = labels.clone();
    labels.insert(KEPT_SERVICE_LABEL.to_owned(), written_by);
    labels.insert(KEPT_PASSWORD_LABEL.to_owned(), password.clone());
    engine.ensure_volume(volume, &labels).await?;
    Ok(password)
}

/// Logs in with the run's password (PostgreSQL, RabbitMQ) and compares the version the server reports.
async fn check(
    engine: &Engine,
    service: &Service,
    image: &str,
    running: &Running,
) -> Result<(), ServiceError> {
    let secrets = std::slice::from_ref(&running.credentials.password);
    if let Some(probe) = protocol::login_probe(service.kind, &running.credentials) {
        let answer = engine
            .exec(&running.container, &probe.cmd, probe.user)
            .await?;
        if answer.exit_code != 0 {
            let text = protocol::redact(answer.output.trim(), secrets);
            if protocol::login_refused(answer.exit_code, &answer.output) {
                return Err(ServiceError::WrongPassword {
                    service: service.name.clone(),
                    kind: service.kind,
                    answer: text,
                    tail: tail(engine, running).await,
                });
            }
            return Err(ServiceError::NeverReady {
                service: service.name.clone(),
                kind: service.kind,
                version: service.version.clone(),
                waited_seconds: service.ready_timeout_seconds,
                last_answer: format!("the login with the run's credentials failed: {text}"),
                tail: tail(engine, running).await,
            });
        }
    }
    let probe = protocol::version_probe(service.kind, &running.credentials);
    let answer = engine
        .exec(&running.container, &probe.cmd, probe.user)
        .await?;
    let running_version =
        protocol::running_version(service.kind, &answer.output).unwrap_or_else(|| {
            format!(
                "an unknown version ({})",
                protocol::redact(answer.output.trim(), secrets)
            )
        });
    if !running_version_matches(&service.version, &running_version) {
        return Err(ServiceError::WrongVersion {
            service: service.name.clone(),
            kind: service.kind,
            asked: service.version.clone(),
            running: running_version,
            image: image.to_owned(),
        });
    }
    Ok(())
}
