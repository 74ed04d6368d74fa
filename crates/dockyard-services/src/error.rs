//! [`ServiceError`]: a service that did not start, never became ready, runs another version or refuses the run's
//! password; each with the service's name, what it answered and the tail of its log (passwords redacted).

use dockyard_config::ServiceKind;
use dockyard_engine::EngineError;

/// Renders a log tail for a message.
fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return "\n(the service printed nothing)".to_owned();
    }
    format!(
        "\n--- last {} lines of the service's log ---\n{}",
        tail.len(),
        tail.join("\n")
    )
}

/// What can go wrong with a backing service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The container exited before the service was ready.
    #[error("service `{service}` ({kind} {version}, image {image}) exited with code {exit_code} before it was ready{}", tail_text(tail))]
    FailedToStart {
        /// The service's name in deploy.toml.
        service: String,
        /// Its kind.
        kind: ServiceKind,
        /// The version asked for.
        version: String,
        /// The image it ran.
        image: String,
        /// The container's exit code.
        exit_code: i64,
        /// The last lines of its log.
        tail: Vec<String>,
    },
    /// The readiness check never passed within `ready_timeout_seconds`.
    #[error("service `{service}` ({kind} {version}) never became ready within {waited_seconds} s; its last answer: {last_answer}{}", tail_text(tail))]
    NeverReady {
        /// The service's name.
        service: String,
        /// Its kind.
        kind: ServiceKind,
        /// The version asked for.
        version: String,
        /// How long Dockyard waited.
        waited_seconds: u64,
        /// What the readiness check answered last.
        last_answer: String,
        /// The last lines of its log.
        tail: Vec<String>,
    },
    /// The server runs another version than deploy.toml asks for.
    #[error("service `{service}` runs {kind} {running}, but deploy.toml asks for version {asked} (image {image})")]
    WrongVersion {
        /// The service's name.
        service: String,
        /// Its kind.
        kind: ServiceKind,
        /// The version asked for.
        asked: String,
        /// The version the server reports.
        running: String,
        /// The image.
        image: String,
    },
    /// The server refuses the password generated for the run.
    #[error(
        "service `{service}` ({kind}) refuses the password generated for this run: {answer}{}",
        tail_text(tail)
    )]
    WrongPassword {
        /// The service's name.
        service: String,
        /// Its kind.
        kind: ServiceKind,
        /// What the login answered.
        answer: String,
        /// The last lines of its log.
        tail: Vec<String>,
    },
    /// A kept data volume (`cargo xtask dev`) holds data another kind or version of server wrote, or was not made by
    /// Dockyard.
    #[error("service `{service}`'s kept data volume {volume} was made {}, but deploy.toml asks for {wanted}", match found { Some(found) => format!("by {found}"), None => "without Dockyard's labels".to_owned() })]
    KeptVolumeMismatch {
        /// The service's name.
        service: String,
        /// The volume.
        volume: String,
        /// The kind and version deploy.toml asks for (`postgres 17`).
        wanted: String,
        /// The kind and version the volume's label names, if any.
        found: Option<String>,
    },
    /// The system gave no randomness for the run's passwords.
    #[error("no randomness for a service password: {0}")]
    Randomness(getrandom::Error),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ServiceError {
    /// The service the error is about, if one.
    pub fn service(&self) -> Option<&str> {
        match self {
            ServiceError::FailedToStart { service, .. }
            | ServiceError::NeverReady { service, .. }
            | ServiceError::WrongVersion { service, .. }
            | ServiceError::WrongPassword { service, .. }
            | ServiceError::KeptVolumeMismatch { service, .. } => Some(service),
            ServiceError::Randomness(_) | ServiceError::Engine(_) => None,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ServiceError::FailedToStart { service, .. } => Some(format!(
                "the log above says why the server stopped; check the image of [services.{service}] (`image =`), or remove \
                 `image` to use Dockyard's own"
            )),
            ServiceError::NeverReady { service, .. } => Some(format!(
                "if the server is only slow, raise `ready_timeout_seconds` in [services.{service}]; the log above shows \
                 where it stopped"
            )),
            ServiceError::WrongVersion {
                service,
                running,
                asked,
                ..
            } => {
                let major = running.split('.').next().unwrap_or(running);
                Some(format!(
                    "write `version = \"{major}\"` in [services.{service}], or name an image of version {asked} with `image =`"
                ))
            }
            ServiceError::WrongPassword { kind, .. } => Some(format!(
                "the image ignores the password Dockyard generates for each run: it must honour {} as the official image does",
                match kind {
                    ServiceKind::Postgres => "POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB",
                    ServiceKind::Redis => "`redis-server --requirepass`",
                    ServiceKind::Rabbitmq => "RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS",
                }
            )),
            ServiceError::KeptVolumeMismatch { volume, .. } => Some(format!(
                "the server of deploy.toml cannot start on that data: `cargo xtask clean --dev` removes the dev data \
                 volumes (the dev database is lost), or `docker volume rm {volume}` this one"
            )),
            ServiceError::Randomness(_) => None,
            ServiceError::Engine(error) => error.hint(),
        }
    }
}
