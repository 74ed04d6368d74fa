//! Containers: create, upload and download tar streams, start, follow logs, wait, inspect, remove.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::{Engine, EngineError};

/// How to create one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// Container name; the engine picks one when `None`.
    pub name: Option<String>,
    /// Image reference or id.
    pub image: String,
    /// Command, exec form.
    pub cmd: Vec<String>,
    /// Entrypoint, exec form, overriding the image's; `Some(vec![])` clears it.
    pub entrypoint: Option<Vec<String>>,
    /// Environment as `KEY=value`.
    pub env: Vec<String>,
    /// User to run as, overriding the image's.
    pub user: Option<String>,
    /// Working directory, overriding the image's.
    pub working_dir: Option<String>,
    /// Labels; the caller adds the run and project labels.
    pub labels: BTreeMap<String, String>,
    /// Named volumes to mount.
    pub volumes: Vec<VolumeMount>,
    /// tmpfs mounts: path to mount options.
    pub tmpfs: BTreeMap<String, String>,
    /// Mount the root filesystem read-only.
    pub read_only_root: bool,
    /// A user-defined network to attach the container to at creation.
    pub network: Option<String>,
    /// Names the container answers to on that network.
    pub network_aliases: Vec<String>,
    /// Signal that stops the container (`SIGQUIT` for nginx), overriding the image's.
    pub stop_signal: Option<String>,
    /// Run the image's HEALTHCHECK at this interval instead of its own (the test command stays the image's).
    pub health_interval: Option<std::time::Duration>,
    /// Container TCP ports to publish on an ephemeral port of the engine's host (read back with
    /// [`Engine::published_address`]): 127.0.0.1 for a local engine, see [`published_ports_reach`].
    pub publish: Vec<u16>,
    /// For a port of `publish`, the host port to publish it on instead of an ephemeral one (`cargo xtask dev`'s
    /// `[dev] port`); 0 or absent means ephemeral.
    pub host_ports: BTreeMap<u16, u16>,
    /// Give the container a TTY and keep its stdin open for [`Engine::run_attached`] (an interactive one-off).
    pub interactive_tty: bool,
    /// Keep the container's stdin open for [`Engine::run_attached`] without a TTY (piped input).
    pub open_stdin: bool,
}

/// Where published ports are bound on the engine's machine, and where Dockyard connects to reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPortsReach {
    /// The host IP the engine binds published ports on.
    pub bind_ip: String,
    /// The host name or IP Dockyard connects to.
    pub connect_host: String,
}

/// Where ports are published for the engine at `docker_host` (spelled like `DOCKER_HOST`).
///
/// A local engine (a unix socket, or TCP on a loopback address) publishes on 127.0.0.1 only, and Dockyard connects
/// there. A remote engine (`tcp://build-host:2375`) publishes on all of its machine's interfaces, since its loopback
/// is not ours, and Dockyard connects to the host named in `DOCKER_HOST`.
pub fn published_ports_reach(docker_host: &str) -> PublishedPortsReach {
    let local = PublishedPortsReach {
        bind_ip: "127.0.0.1".to_owned(),
        connect_host: "127.0.0.1".to_owned(),
    };
    let Some((_scheme, rest)) = docker_host.split_once("://") else {
        return local;
    };
    if docker_host.starts_with("unix://") || docker_host.starts_with("npipe://") {
        return local;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let is_loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    if host.is_empty() || is_loopback {
        return local;
    }
    PublishedPortsReach {
        bind_ip: "0.0.0.0".to_owned(),
        connect_host: host.to_owned(),
    }
}

/// One mount of a container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// `volume`, `bind`, `tmpfs`, ...
    pub kind: String,
    /// The volume name for a volume, the host path for a bind mount.
    pub source: String,
    /// The path inside the container.
    pub destination: String,
}

/// A named volume mounted into a container.
#[derive(Debug, Clone)]
pub struct VolumeMount {
    /// Volume name.
    pub volume: String,
    /// Path inside the container.
    pub target: String,
}

/// The state of a container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// Where the container is in its life.
    pub status: ContainerStatus,
    /// Exit code, meaningful once exited.
    pub exit_code: i64,
    /// What its HEALTHCHECK says, if it has one.
    pub health: HealthStatus,
}

/// Where a container is in its life, as the engine's `State.Status` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Its process ended.
    Exited,
    /// The engine failed to stop or remove it.
    Dead,
    /// A status this client does not know (empty when the engine sent none).
    Unknown(String),
}

impl ContainerStatus {
    /// Whether the container's process is gone for good: [`ContainerStatus::Exited`] or [`ContainerStatus::Dead`].
    pub fn has_ended(&self) -> bool {
        matches!(self, ContainerStatus::Exited | ContainerStatus::Dead)
    }

    fn from_engine(name: &str) -> ContainerStatus {
        match name {
            "created" => ContainerStatus::Created,
            "running" => ContainerStatus::Running,
            "paused" => ContainerStatus::Paused,
            "restarting" => ContainerStatus::Restarting,
            "removing" => ContainerStatus::Removing,
            "exited" => ContainerStatus::Exited,
            "dead" => ContainerStatus::Dead,
            other => ContainerStatus::Unknown(other.to_owned()),
        }
    }
}

impl std::fmt::Display for ContainerStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Removing => "removing",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Dead => "dead",
            ContainerStatus::Unknown(name) => name,
        })
    }
}

/// A container's health as its HEALTHCHECK reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthStatus {
    /// The image declares no HEALTHCHECK.
    NoHealthcheck,
    /// Not judged yet.
    Starting,
    /// The last checks passed.
    Healthy,
    /// The checks failed too often.
    Unhealthy,
}

impl HealthStatus {
    fn from_engine(name: &str) -> HealthStatus {
        match name {
            "starting" => HealthStatus::Starting,
            "healthy" => HealthStatus::Healthy,
            "unhealthy" => HealthStatus::Unhealthy,
            _ => HealthStatus::NoHealthcheck,
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            HealthStatus::NoHealthcheck => "none",
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        })
    }
}

/// One line of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    /// A line on stdout.
    Stdout(String),
    /// A line on stderr.
    Stderr(String),
}

impl LogLine {
    /// The text of the line, whichever stream it came from.
    pub fn text(&self) -> &str {
        match self {
            LogLine::Stdout(text) | LogLine::Stderr(text) => text,
        }
    }
}

impl Engine {
    /// Creates a named volume if it does not exist yet.
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = bollard::models::VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            ),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(drop)
            .map_err(|error| self.engine_error(format!("creating volume {name}"), error))
    }

    /// Creates a container (not started) and returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut options = CreateContainerOptionsBuilder::default();
        if let Some(name) = &spec.name {
            options = options.name(name);
        }
        let mounts: Vec<Mount> = spec
            .volumes
            .iter()
            .map(|mount| Mount {
                target: Some(mount.target.clone()),
                source: Some(mount.volume.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            })
            .collect();
        let tmpfs: HashMap<String, String> = spec
            .tmpfs
            .iter()
            .map(|(path, options)| (path.clone(), options.clone()))
            .collect();
        let reach = published_ports_reach(&self.host);
        let port_bindings: bollard::models::PortMap = spec
            .publish
            .iter()
            .map(|port| {
                let binding = bollard::models::PortBinding {
                    host_ip: Some(reach.bind_ip.clone()),
                    host_port: Some(spec.host_ports.get(port).copied().unwrap_or(0).to_string()),
                };
                (format!("{port}/tcp"), Some(vec![binding]))
            })
            .collect();
        let exposed_ports: Vec<String> = spec
            .publish
            .iter()
            .map(|port| format!("{port}/tcp"))
            .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
            entrypoint: spec.entrypoint.clone(),
            env: Some(spec.env.clone()),
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            labels: Some(
                spec.labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            ),
            tty: Some(spec.interactive_tty),
            open_stdin: Some(spec.interactive_tty || spec.open_stdin),
            stdin_once: Some(spec.interactive_tty || spec.open_stdin),
            attach_stdin: Some(spec.interactive_tty || spec.open_stdin),
            exposed_ports: (!exposed_ports.is_empty()).then_some(exposed_ports),
            stop_signal: spec.stop_signal.clone(),
            // An empty test inherits the image's command; only the timing changes.
            healthcheck: spec
                .health_interval
                .map(|interval| bollard::models::HealthConfig {
                    interval: Some(interval.as_nanos() as i64),
                    timeout: Some(5_000_000_000),
                    retries: Some(3),
                    start_period: Some(0),
                    ..Default::default()
                }),
            networking_config: spec.network.as_ref().map(|network| {
                bollard::models::NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        network.clone(),
                        bollard::models::EndpointSettings {
                            aliases: Some(spec.network_aliases.clone()),
                            ..Default::default()
                        },
                    )])),
                }
            }),
            host_config: Some(HostConfig {
                port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
                mounts: (!mounts.is_empty()).then_some(mounts),
                tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
                readonly_rootfs: Some(spec.read_only_root),
                network_mode: spec.network.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let response = self
            .docker
            .create_container(Some(options.build()), body)
            .await
            .map_err(|error| {
                self.engine_error(format!("creating a container from {}", spec.image), error)
            })?;
        Ok(response.id)
    }

    /// Uploads a tar (plain or gzip) file into a folder of a container, streamed from disk.
    /// The folder must exist in the container; the tar is extracted there.
    pub async fn upload_tar_file(
        &self,
        container: &str,
        folder: &str,
        tarball: &Path,
    ) -> Result<(), EngineError> {
        let file = tokio::fs::File::open(tarball)
            .await
            .map_err(|error| EngineError::io(format!("opening {}", tarball.display()), error))?;
        let body = bollard::body_try_stream(ReaderStream::with_capacity(file, 256 * 1024));
        let options = UploadToContainerOptionsBuilder::default()
            .path(folder)
            .build();
        self.docker
            .upload_to_container(container, Some(options), body)
            .await
            .map_err(|error| {
                self.engine_error(
                    format!("uploading {} into {folder}", tarball.display()),
                    error,
                )
            })
    }

    /// Uploads an in-memory tar (plain or gzip) into a folder of a container.
    pub async fn upload_tar_bytes(
        &self,
        container: &str,
        folder: &str,
        tar: Vec<u8>,
    ) -> Result<(), EngineError> {
        let options = UploadToContainerOptionsBuilder::default()
            .path(folder)
            .build();
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(|error| self.engine_error(format!("uploading files into {folder}"), error))
    }

    /// Starts a created container.
    pub async fn start_container(&self, container: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(
                container,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|error| self.engine_error(format!("starting container {container}"), error))
    }

    /// Follows a container's output until it exits, handing each line to `on_line`.
    pub async fn follow_logs(
        &self,
        container: &str,
        on_line: &mut (dyn FnMut(LogLine) + Send),
    ) -> Result<(), EngineError> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .build();
        let mut stream = self.docker.logs(container, Some(options));
        let mut pending_out = String::new();
        let mut pending_err = String::new();
        while let Some(item) = stream.next().await {
            let output = item.map_err(|error| {
                self.engine_error(format!("reading the output of {container}"), error)
            })?;
            let (pending, wrap): (&mut String, fn(String) -> LogLine) = match output {
                LogOutput::StdErr { .. } => (&mut pending_err, LogLine::Stderr),
                _ => (&mut pending_out, LogLine::Stdout),
            };
            pending.push_str(&String::from_utf8_lossy(&output.into_bytes()));
            while let Some(newline) = pending.find('\n') {
                let line: String = pending.drain(..=newline).collect();
                on_line(wrap(line.trim_end_matches(['\n', '\r']).to_owned()));
            }
        }
        for (pending, wrap) in [
            (pending_out, LogLine::Stdout as fn(String) -> LogLine),
            (pending_err, LogLine::Stderr),
        ] {
            if !pending.is_empty() {
                on_line(wrap(pending));
            }
        }
        Ok(())
    }

    /// The last `n_lines` lines a container printed, stdout and stderr interleaved.
    pub async fn logs_tail(
        &self,
        container: &str,
        n_lines: usize,
    ) -> Result<Vec<String>, EngineError> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&n_lines.to_string())
            .build();
        let mut stream = self.docker.logs(container, Some(options));
        let mut text = String::new();
        while let Some(item) = stream.next().await {
            let output = item.map_err(|error| {
                self.engine_error(format!("reading the output of {container}"), error)
            })?;
            text.push_str(&String::from_utf8_lossy(&output.into_bytes()));
        }
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// Waits until a container stops and returns its exit code.
    pub async fn wait_container(&self, container: &str) -> Result<i64, EngineError> {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut stream = self.docker.wait_container(container, Some(options));
        let mut exit_code = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(response) => exit_code = response.status_code,
                // bollard reports a non-zero exit as an error; it is an answer here.
                Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => {
                    exit_code = code
                }
                Err(error) => {
                    return Err(
                        self.engine_error(format!("waiting for container {container}"), error)
                    )
                }
            }
        }
        Ok(exit_code)
    }

    /// Inspects a container's state.
    pub async fn container_state(&self, container: &str) -> Result<ContainerState, EngineError> {
        let inspect = self
            .docker
            .inspect_container(
                container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(|error| {
                self.engine_error(format!("inspecting container {container}"), error)
            })?;
        let state = inspect.state.unwrap_or_default();
        let health = state
            .health
            .and_then(|health| health.status)
            .map_or(HealthStatus::NoHealthcheck, |status| {
                HealthStatus::from_engine(status.as_ref())
            });
        Ok(ContainerState {
            status: ContainerStatus::from_engine(state.status.as_ref().map_or("", AsRef::as_ref)),
            exit_code: state.exit_code.unwrap_or_default(),
            health,
        })
    }

    /// The mounts of a container as the engine reports them (named volumes show as `volume`, host paths as `bind`).
    pub async fn container_mounts(
        &self,
        container: &str,
    ) -> Result<Vec<ContainerMount>, EngineError> {
        let inspect = self
            .docker
            .inspect_container(
                container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(|error| {
                self.engine_error(format!("inspecting the mounts of {container}"), error)
            })?;
        Ok(inspect
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|mount| ContainerMount {
                kind: mount.typ.map(|kind| kind.to_string()).unwrap_or_default(),
                source: mount.name.or(mount.source).unwrap_or_default(),
                destination: mount.destination.unwrap_or_default(),
            })
            .collect())
    }

    /// The address where Dockyard reaches a container's TCP `port`: the engine's host (see
    /// [`published_ports_reach`]) and the port the engine published it on.
    pub async fn published_address(
        &self,
        container: &str,
        port: u16,
    ) -> Result<std::net::SocketAddr, EngineError> {
        let published = self.published_port(container, port).await?;
        let reach = published_ports_reach(&self.host);
        let operation = format!(
            "resolving {} to reach port {port} of {container}",
            reach.connect_host
        );
        let first = tokio::net::lookup_host((reach.connect_host.as_str(), published))
            .await
            .map_err(|source| EngineError::io(operation.clone(), source))?
            .next();
        first.ok_or_else(|| EngineError::Other {
            operation,
            message: "the name resolved to no address".to_owned(),
        })
    }

    /// The port on the engine's host that the engine published a container's TCP `port` on.
    pub async fn published_port(&self, container: &str, port: u16) -> Result<u16, EngineError> {
        let operation = format!("reading the published port {port} of {container}");
        let inspect = self
            .docker
            .inspect_container(
                container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(|error| self.engine_error(operation.clone(), error))?;
        inspect
            .network_settings
            .and_then(|settings| settings.ports)
            .and_then(|ports| ports.get(&format!("{port}/tcp")).cloned().flatten())
            .and_then(|bindings| {
                bindings
                    .into_iter()
                    .find_map(|binding| binding.host_port?.parse().ok())
            })
            .ok_or_else(|| EngineError::Other {
                operation,
                message: "the port is not published (is the container running?)".to_owned(),
            })
    }

    /// Downloads a path of a container as an uncompressed tar stream, written to `destination`.
    /// A folder path ending in `/.` yields the folder's contents at the tar root.
    pub async fn download_to_file(
        &self,
        container: &str,
        path: &str,
        destination: &Path,
    ) -> Result<u64, EngineError> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut file = tokio::fs::File::create(destination)
            .await
            .map_err(|error| {
                EngineError::io(format!("creating {}", destination.display()), error)
            })?;
        let mut n_bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| {
                self.engine_error(
                    format!("downloading {path} from container {container}"),
                    error,
                )
            })?;
            n_bytes += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|error| {
                EngineError::io(format!("writing {}", destination.display()), error)
            })?;
        }
        file.flush().await.map_err(|error| {
            EngineError::io(format!("writing {}", destination.display()), error)
        })?;
        Ok(n_bytes)
    }

    /// Stops a container: its stop signal, then SIGKILL after `timeout_seconds`.
    pub async fn stop_container(
        &self,
        container: &str,
        timeout_seconds: u32,
    ) -> Result<(), EngineError> {
        let options = bollard::query_parameters::StopContainerOptionsBuilder::default()
            .t(timeout_seconds as i32)
            .build();
        match self.docker.stop_container(container, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(error) => Err(self.engine_error(format!("stopping container {container}"), error)),
        }
    }

    /// Removes a container with its anonymous volumes, killing it if it runs; a missing one is not an error.
    pub async fn remove_container(&self, container: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(container, Some(options)).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = self.engine_error(format!("removing container {container}"), error);
                if error.is_not_found() {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_statuses_read_back_as_the_engine_names_them() {
        let check = |name: &str, status: ContainerStatus, ended: bool| {
            let read = ContainerStatus::from_engine(name);
            assert_eq!(read, status, "{name:?}");
            assert_eq!(read.has_ended(), ended, "{name:?}");
            assert_eq!(read.to_string(), name);
        };
        check("created", ContainerStatus::Created, false);
        check("running", ContainerStatus::Running, false);
        check("paused", ContainerStatus::Paused, false);
        check("restarting", ContainerStatus::Restarting, false);
        check("removing", ContainerStatus::Removing, false);
        check("exited", ContainerStatus::Exited, true);
        check("dead", ContainerStatus::Dead, true);
        check(
            "stopping",
            ContainerStatus::Unknown("stopping".to_owned()),
            false,
        );
        check("", ContainerStatus::Unknown(String::new()), false);
    }

    #[test]
    fn health_statuses_read_back_as_the_engine_names_them() {
        let check = |name: &str, health: HealthStatus| {
            assert_eq!(HealthStatus::from_engine(name), health, "{name:?}");
        };
        check("starting", HealthStatus::Starting);
        check("healthy", HealthStatus::Healthy);
        check("unhealthy", HealthStatus::Unhealthy);
        check("none", HealthStatus::NoHealthcheck);
        check("", HealthStatus::NoHealthcheck);
    }

    #[test]
    fn published_ports_reach_follows_the_engine_host() {
        let check = |docker_host: &str, bind_ip: &str, connect_host: &str| {
            assert_eq!(
                published_ports_reach(docker_host),
                PublishedPortsReach {
                    bind_ip: bind_ip.to_owned(),
                    connect_host: connect_host.to_owned(),
                },
                "{docker_host}"
            );
        };
        check("unix:///var/run/docker.sock", "127.0.0.1", "127.0.0.1");
        check("unix:///tmp/engine/docker.sock", "127.0.0.1", "127.0.0.1");
        check("tcp://127.0.0.1:2375", "127.0.0.1", "127.0.0.1");
        check("tcp://127.0.0.2:2375", "127.0.0.1", "127.0.0.1");
        check("tcp://localhost:2375", "127.0.0.1", "127.0.0.1");
        check("tcp://[::1]:2375", "127.0.0.1", "127.0.0.1");
        check("tcp://10.211.0.2:2375", "0.0.0.0", "10.211.0.2");
        check(
            "tcp://build-host.example:2376",
            "0.0.0.0",
            "build-host.example",
        );
        check(
            "https://build-host.example:2376/",
            "0.0.0.0",
            "build-host.example",
        );
        check("tcp://[fd00::2]:2375", "0.0.0.0", "fd00::2");
        check(
            "ssh://ci@build-host.example",
            "0.0.0.0",
            "build-host.example",
        );
        check("/var/run/docker.sock", "127.0.0.1", "127.0.0.1");
    }
}
