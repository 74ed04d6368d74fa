//! Test support: throwaway copies of the project, running the xtask binary, and the engine gate.
#![allow(
    clippy::disallowed_methods,
    reason = "the test support runs the xtask binary as a user would"
)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Mutex, MutexGuard, OnceLock};

use dockyard_engine::Engine;

/// Engine tests share one engine and its base images: run them one at a time.
static ENGINE_LOCK: Mutex<()> = Mutex::new(());

/// The tools folder every test and every project copy shares, so the pinned tools are provisioned once per
/// checkout: the workspace's own `target/dockyard/tools` (what `cargo xtask tools` fills).
pub fn shared_tools_dir() -> PathBuf {
    workspace_root().join("target/dockyard/tools")
}

/// The pinned tools (provisioned on first use, once for the whole run), or `None` after a loud skip line when they
/// cannot be provisioned here (no python3 or PyPI); under `CI=true` that fails the test instead.
pub fn tools_or_skip(test: &str) -> Option<dockyard_tools::Toolbox> {
    static TOOLS: OnceLock<Result<dockyard_tools::Toolbox, String>> = OnceLock::new();
    let tools = TOOLS.get_or_init(|| {
        dockyard_tools::provision(&shared_tools_dir(), &|line| eprintln!("{line}"))
            .map_err(|error| format!("{error}\nhint: {}", error.hint()))
    });
    match tools {
        Ok(toolbox) => Some(toolbox.clone()),
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: CI=true but the pinned tools cannot be provisioned: {error}"
            );
            eprintln!("SKIPPED {test}: the pinned tools cannot be provisioned here: {error}");
            None
        }
    }
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of deploy.toml, app/ and docker/ in a temp folder, with its own project name so images do not collide.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub name: String,
}

impl Project {
    /// A copy of the sample app with deploy.toml.
    pub fn copy(name: &str) -> Project {
        Project::copy_with(name, "deploy.toml")
    }

    /// A copy of the sample app whose deploy.toml is the workspace's `deploy_file` (`deploy.services.toml`).
    pub fn copy_with(name: &str, deploy_file: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("dockyard-it-")
            .tempdir()
            .unwrap();
        let root = workspace_root();
        for folder in ["app", "docker"] {
            for entry in walkdir::WalkDir::new(root.join(folder))
                .into_iter()
                .filter_entry(|entry| {
                    let name = entry.file_name().to_string_lossy();
                    name != "__pycache__" && name != "staticfiles" && !name.ends_with(".sqlite3")
                })
            {
                let entry = entry.unwrap();
                let relative = entry.path().strip_prefix(&root).unwrap();
                let destination = dir.path().join(relative);
                if entry.file_type().is_dir() {
                    std::fs::create_dir_all(&destination).unwrap();
                } else {
                    std::fs::copy(entry.path(), &destination).unwrap();
                }
            }
        }
        let deploy = std::fs::read_to_string(root.join(deploy_file)).unwrap();
        let deploy = deploy
            .replace("name = \"dockyard-sample\"", &format!("name = \"{name}\""))
            .replace(
                "name = \"dockyard-sample-services\"",
                &format!("name = \"{name}\""),
            )
            .replace(
                "name = \"dockyard-sample-matrix\"",
                &format!("name = \"{name}\""),
            );
        std::fs::write(dir.path().join("deploy.toml"), deploy).unwrap();
        Project {
            dir,
            name: name.to_owned(),
        }
    }

    /// Names the copy's `docker/production.Dockerfile` and `docker/nginx.Dockerfile` in its deploy.toml, as a project
    /// with its own templates does: the engine builds those images instead of Dockyard assembling them.
    pub fn with_own_templates(self) -> Project {
        let file = self.path("deploy.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("[production]\n") && text.contains("[nginx]\n"),
            "deploy.toml has no [production] and [nginx] tables: update the test"
        );
        let text = text
            .replacen(
                "[production]\n",
                "[production]\ndockerfile = \"docker/production.Dockerfile\"\n",
                1,
            )
            .replacen(
                "[nginx]\n",
                "[nginx]\ndockerfile = \"docker/nginx.Dockerfile\"\n",
                1,
            );
        std::fs::write(&file, text).unwrap();
        self
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Runs `cargo xtask <args> --config <this project's deploy.toml>`.
    pub fn xtask(&self, args: &[&str]) -> Output {
        self.xtask_with_env(args, &[])
    }

    /// `cargo xtask --config <this project's deploy.toml> <args>` as a command to spawn: the shared tools folder,
    /// no ambient `SOURCE_DATE_EPOCH`.
    pub fn xtask_command(&self, args: &[&str]) -> std::process::Command {
        // `--config` first: it is global, and `run -- CMD...` takes everything after its `--`.
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .arg("--config")
            .arg(self.path("deploy.toml"))
            .args(args)
            .env_remove("SOURCE_DATE_EPOCH")
            .env(dockyard_tools::TOOLS_DIR_ENV, shared_tools_dir());
        command
    }

    /// Runs `cargo xtask <args>` with extra environment variables.
    pub fn xtask_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let output = self
            .xtask_command(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        eprintln!(
            "--- xtask {} (exit {:?})\n{}{}",
            args.join(" "),
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            tail(&String::from_utf8_lossy(&output.stderr), 60)
        );
        output
    }
}

pub fn tail(text: &str, n_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n_lines);
    lines[start..]
        .iter()
        .map(|line| format!("{line}\n"))
        .collect()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A tokio runtime for talking to the engine from tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The engine, with the lock that serialises engine tests; `None` (and a loud line) when there is none.
/// Under `CI=true` a missing engine fails the test instead: CI must run these.
pub fn engine_or_skip(test: &str) -> Option<(Engine, MutexGuard<'static, ()>)> {
    let guard = ENGINE_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match runtime().block_on(Engine::connect()) {
        Ok(engine) => Some((engine, guard)),
        Err(error) => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("{test}: CI=true but no docker engine is reachable: {error}");
            }
            eprintln!("SKIPPED {test}: no docker engine ({error}); these tests run in CI (`bash .ci/run`)");
            None
        }
    }
}

/// One provisioned tool and what `TOOL VERSION_ARG` prints (trimmed), or `None` after a loud skip when the tools
/// cannot be provisioned here (a failure under CI=true); a tool that does not run fails the test.
#[allow(
    clippy::disallowed_methods,
    reason = "the tests run the provisioned tools as a user would"
)]
pub fn tool_or_skip(
    tool: dockyard_tools::Tool,
    version_arg: &str,
    test: &str,
) -> Option<(PathBuf, String)> {
    let program = tools_or_skip(test)?.path(tool);
    let output = std::process::Command::new(&program)
        .arg(version_arg)
        .output()
        .unwrap_or_else(|error| panic!("{test}: cannot run {}: {error}", program.display()));
    assert!(
        output.status.success(),
        "{test}: `{} {version_arg}` failed ({:?}):\n{}{}",
        program.display(),
        output.status.code(),
        stdout(&output),
        stderr(&output)
    );
    Some((program, stdout(&output).trim().to_owned()))
}

/// The sha256 recorded beside an exported context.
pub fn context_sha256(project: &Project) -> String {
    let sidecar = project.path(&format!(
        "target/dockyard/{}-context.tar.gz.sha256",
        project.name
    ));
    let text = std::fs::read_to_string(&sidecar)
        .unwrap_or_else(|error| panic!("reading {}: {error}", sidecar.display()));
    text.split_whitespace().next().unwrap().to_owned()
}

/// Minimal HTTP/1.0 GET against 127.0.0.1:port: (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_get_at(&format!("127.0.0.1:{port}"), path)
}

/// Minimal HTTP/1.0 GET against `address` (`host:port`) with `Host: localhost`: (status, body).
pub fn http_get_at(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Reads `child`'s piped stderr until a line satisfies `reached`; returns the lines read so far and
/// the rest of the stream. Panics, with what was read, when the stream ends first (`what` names the
/// awaited stage in that message).
pub fn stderr_until(
    child: &mut std::process::Child,
    what: &str,
    reached: impl Fn(&str) -> bool,
) -> (
    Vec<String>,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) {
    use std::io::BufRead;
    let stream = child.stderr.take().expect("stderr is piped");
    let mut lines = std::io::BufReader::new(stream).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr is text");
        let done = reached(&line);
        seen.push(line);
        if done {
            return (seen, lines);
        }
    }
    panic!("{what} never started:\n{}", seen.join("\n"));
}

/// Nothing labelled with `project` and a run id is left on the engine: no container, network or volume.
pub fn assert_no_leftovers(engine: &Engine, project: &Project) {
    let project_label = format!("{}={}", dockyard_engine::PROJECT_LABEL, project.name);
    let leftovers = runtime()
        .block_on(engine.find_labelled(&[dockyard_engine::RUN_LABEL, &project_label]))
        .unwrap();
    assert!(
        leftovers.is_empty(),
        "the run left containers, networks or volumes behind: {leftovers:?}"
    );
}
