//! Talking to running containers beyond their logs: signals (`cargo xtask dev` restarts its server with one),
//! a volume's labels, and one-off containers attached to the caller's stdin and stdout (a TTY when the caller has
//! one), all through the API.

use std::collections::BTreeMap;
use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::query_parameters::{AttachContainerOptionsBuilder, KillContainerOptions};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::{Engine, EngineError};

impl Engine {
    /// Sends `signal` (`SIGHUP`, `SIGTERM`...) to the main process of the running `container`.
    pub async fn signal_container(&self, container: &str, signal: &str) -> Result<(), EngineError> {
        let options = KillContainerOptions {
            signal: signal.to_owned(),
        };
        self.docker
            .kill_container(container, Some(options))
            .await
            .map_err(|error| self.engine_error(format!("sending {signal} to {container}"), error))
    }

    /// The labels of the volume `name`, or `None` when the engine has no such volume.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EngineError> {
        match self.docker.inspect_volume(name).await {
            Ok(volume) => Ok(Some(volume.labels.into_iter().collect())),
            Err(error) => {
                let error = self.engine_error(format!("inspecting volume {name}"), error);
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Attaches to the created `container` (made with `interactive_tty` or `open_stdin`), starts it, copies `stdin`
    /// into it until either ends, writes everything it prints to `stdout` as it comes, and returns its exit code.
    pub async fn run_attached(
        &self,
        container: &str,
        stdin: Pin<Box<dyn AsyncRead + Send>>,
        stdout: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<i64, EngineError> {
        let options = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = self
            .docker
            .attach_container(container, Some(options))
            .await
            .map_err(|error| self.engine_error(format!("attaching to {container}"), error))?;
        self.start_container(container).await?;
        let mut input = attached.input;
        let mut stdin = stdin;
        let pump = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut stdin, &mut input).await;
            let _ = input.shutdown().await;
        });
        let mut output = attached.output;
        while let Some(item) = output.next().await {
            let Ok(chunk) = item else { break };
            let bytes = match chunk {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message }
                | LogOutput::StdIn { message } => message,
            };
            stdout
                .write_all(&bytes)
                .await
                .map_err(|error| EngineError::io("writing a container's output", error))?;
            let _ = stdout.flush().await;
        }
        pump.abort();
        self.wait_container(container).await
    }
}
