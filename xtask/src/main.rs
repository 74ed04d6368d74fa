//! `cargo xtask`: parses flags, then one `match` dispatches to the command's `run`; logic lives in `crates/`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line prints its results"
)]

mod bench;
mod build;
mod clean;
mod doctor;
mod flags;
mod init;
mod plan;
mod reliability;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use dockyard_config::DeployConfig;
use dockyard_pipeline::{exit_code, PipelineError};

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    dockyard_pipeline::progress::configure(dockyard_pipeline::progress::Mode::detect(
        flags.verbose,
    ));
    let config_path = flags
        .config
        .clone()
        .unwrap_or_else(|| workspace_root().join("deploy.toml"));
    let res = match flags.command {
        flags::Command::Init(command) => command.run(),
        flags::Command::Plan(command) => command.run(&config_path),
        flags::Command::Doctor(command) => command.run(&config_path),
        flags::Command::Base(command) => command.run(&config_path),
        flags::Command::Export(command) => command.run(&config_path),
        flags::Command::Build(command) => command.run(&config_path),
        flags::Command::Scan(command) => command.run(&config_path),
        flags::Command::Smoke(command) => command.run(&config_path),
        flags::Command::Check(command) => command.run(&config_path),
        flags::Command::Release(command) => command.run(&config_path),
        flags::Command::Run(command) => command.run(&config_path),
        flags::Command::Tools(command) => command.run(&config_path),
        flags::Command::Dev(command) => command.run(&config_path),
        flags::Command::Clean(command) => command.run(&config_path),
        flags::Command::Reliability(command) => command.run(&workspace_root()),
        flags::Command::Bench(command) => command.run(&workspace_root()),
        flags::Command::BenchProbe(command) => command.run(),
    };
    match res {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => ExitCode::from(report(&error) as u8),
    }
}

/// Prints an error chain with its hint (and a GitHub annotation under Actions); returns the exit code.
fn report(error: &anyhow::Error) -> i32 {
    let pipeline_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<PipelineError>());
    let config_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<dockyard_config::ConfigError>())
        .or(match pipeline_error {
            Some(PipelineError::Config(config_error)) => Some(config_error),
            _ => None,
        });
    let init_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<dockyard_init::InitError>());
    eprintln!("error: {error:#}");
    // A config error's own message already ends with its hint line.
    let hint = pipeline_error
        .filter(|_| config_error.is_none())
        .and_then(PipelineError::hint)
        .or_else(|| init_error.and_then(dockyard_init::InitError::hint));
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        match config_error
            .and_then(|error| Some((error, error.file()?, error.line()?, error.column()?)))
        {
            Some((error, file, line, column)) => println!(
                "::error file={},line={line},col={column}::{}",
                file.display(),
                error.message()
            ),
            None => println!(
                "::error::{}",
                format!("{error:#}").lines().next().unwrap_or_default()
            ),
        }
    }
    match (pipeline_error, config_error) {
        (Some(error), _) => error.exit_code(),
        // `init` refusing a folder: no valid deploy.toml can be written for it (yet).
        (None, Some(_)) => exit_code::INVALID_CONFIG,
        (None, None) if init_error.is_some() => exit_code::INVALID_CONFIG,
        (None, None) => exit_code::UNEXPECTED,
    }
}

/// The folder holding the workspace's Cargo.toml (and, by default, deploy.toml).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Loads and validates deploy.toml; paths inside resolve against its folder.
fn load_config(path: &Path) -> anyhow::Result<DeployConfig> {
    Ok(dockyard_config::load(path).map_err(PipelineError::from)?)
}

/// A tokio runtime for the commands that talk to the engine.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
