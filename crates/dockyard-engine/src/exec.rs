//! Commands run inside a running container (`docker exec`): the readiness and version checks of services and the
//! ready commands of the app's processes.

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use crate::{Engine, EngineError};

/// What a command run in a container answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The command's exit code (`-1` when the engine did not report one).
    pub exit_code: i64,
    /// Its stdout and stderr, interleaved, as text (invalid UTF-8 replaced).
    pub output: String,
}

impl Engine {
    /// Runs `cmd` inside the running `container`, as `user` when given (else the container's user), and waits for it.
    pub async fn exec(
        &self,
        container: &str,
        cmd: &[String],
        user: Option<&str>,
    ) -> Result<ExecOutput, EngineError> {
        let operation = || format!("running `{}` in {container}", cmd.join(" "));
        let options = CreateExecOptions {
            cmd: Some(cmd.to_vec()),
            user: user.map(str::to_owned),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..CreateExecOptions::default()
        };
        let created = self
            .docker
            .create_exec(container, options)
            .await
            .map_err(|error| self.engine_error(operation(), error))?;
        let mut output = String::new();
        match self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|error| self.engine_error(operation(), error))?
        {
            StartExecResults::Attached {
                output: mut stream, ..
            } => {
                while let Some(item) = stream.next().await {
                    let chunk = item.map_err(|error| self.engine_error(operation(), error))?;
                    output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            }
            StartExecResults::Detached => {}
        }
        let inspect = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|error| self.engine_error(operation(), error))?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            output,
        })
    }
}
