//! The Docker Engine API client: the only crate that knows bollard.
//!
//! Everything Dockyard asks of an engine goes through [`Engine`]. No bollard type crosses this
//! crate's API: callers see plain Rust types ([`ImageInfo`], [`ContainerSpec`], [`RegistryCredentials`], [`EngineError`]).
//! Files travel through the API (upload and download of tar streams), never through bind mounts,
//! so a remote engine (`DOCKER_HOST=tcp://...`) works unchanged.
#![warn(missing_docs)]

mod containers;
mod control;
mod error;
mod exec;
mod images;
mod registry;
mod resources;

use std::time::Duration;

use bollard::Docker;

pub use crate::containers::{
    published_ports_reach, ContainerMount, ContainerSpec, ContainerState, ContainerStatus,
    HealthStatus, LogLine, PublishedPortsReach, VolumeMount,
};
pub use crate::error::EngineError;
pub use crate::exec::ExecOutput;
pub use crate::images::{BuildSpec, ImageInfo};
pub use crate::registry::{PushFailureKind, RegistryCredentials};
pub use crate::resources::{Leftovers, PROJECT_LABEL, RUN_LABEL};

/// A connection to one Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineVersion {
    /// Engine version, for example `20.10.24`.
    pub version: String,
    /// The highest API version the engine speaks, for example `1.41`.
    pub api_version: String,
    /// Operating system and architecture, for example `linux/amd64`.
    pub platform: String,
}

/// The oldest engine API version Dockyard is tested against.
pub const MINIMUM_API_VERSION: (u32, u32) = (1, 41);

impl Engine {
    /// Connects to the engine named by `DOCKER_HOST` (default: the local unix socket) and pings it.
    pub async fn connect() -> Result<Engine, EngineError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        Engine::connect_to(&host).await
    }

    /// Connects to the engine at `host` (spelled like `DOCKER_HOST`: `unix:///...` or `tcp://HOST:PORT`) and pings it.
    pub async fn connect_to(host: &str) -> Result<Engine, EngineError> {
        let host = host.to_owned();
        let docker = Docker::connect_with_host(&host)
            .map_err(|error| EngineError::Unreachable {
                host: host.clone(),
                reason: error.to_string(),
            })?
            // Build-context uploads can take a while before the engine answers with headers.
            .with_timeout(Duration::from_secs(900));
        let engine = Engine { docker, host };
        engine.ping().await?;
        Ok(engine)
    }

    /// The address this connection talks to, as `DOCKER_HOST` spells it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// An engine error for a failed client call, naming this engine when the connection was lost.
    fn engine_error(
        &self,
        operation: impl Into<String>,
        error: bollard::errors::Error,
    ) -> EngineError {
        EngineError::from_bollard(operation, error).at_host(&self.host)
    }

    /// Checks that the engine answers.
    pub async fn ping(&self) -> Result<(), EngineError> {
        self.docker
            .ping()
            .await
            .map(drop)
            .map_err(|error| EngineError::Unreachable {
                host: self.host.clone(),
                reason: error.to_string(),
            })
    }

    /// The engine's version, API version and platform.
    pub async fn version(&self) -> Result<EngineVersion, EngineError> {
        let version = self
            .docker
            .version()
            .await
            .map_err(|error| self.engine_error("reading the engine version", error))?;
        Ok(EngineVersion {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            platform: format!(
                "{}/{}",
                version.os.unwrap_or_default(),
                version.arch.unwrap_or_default()
            ),
        })
    }
}

/// Parses an API version such as `1.41` into `(1, 41)`.
pub fn parse_api_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}
