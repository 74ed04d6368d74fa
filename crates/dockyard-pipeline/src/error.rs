//! The pipeline's error type: every failure with the object it is about, its exit code and a hint.

use std::path::PathBuf;

use dockyard_release::ReleaseError;

use crate::exit_code;

/// What stopped a pipeline step.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// deploy.toml is invalid.
    #[error(transparent)]
    Config(#[from] dockyard_config::ConfigError),
    /// The engine failed or could not be reached.
    #[error(transparent)]
    Engine(#[from] dockyard_engine::EngineError),
    /// A base image could not be bootstrapped.
    #[error(transparent)]
    Base(#[from] dockyard_base::BaseError),
    /// Packing or unpacking a context failed.
    #[error(transparent)]
    Context(#[from] dockyard_context::ContextError),
    /// Writing an assembled image's layers or archive failed.
    #[error(transparent)]
    Image(#[from] dockyard_image::ImageError),
    /// trivy could not run (missing, wrong version, timeout, no vulnerability database), or its report was unreadable.
    #[error(transparent)]
    Scan(#[from] dockyard_scan::ScanError),
    /// The pinned tools could not be provisioned (`cargo xtask tools`).
    #[error(transparent)]
    Tools(#[from] dockyard_tools::ToolsError),
    /// The smoke run could not start or finish (failed checks are [`PipelineError::SmokeFailed`]).
    #[error(transparent)]
    Smoke(#[from] dockyard_smoke::SmokeError),
    /// Findings over the policy, or expired ignore entries.
    #[error("the scan gate failed: {n_failing} findings over the policy, {n_expired} expired ignore entries (report: {})", report.display())]
    ScanPolicyViolated {
        /// Findings that fail the policy.
        n_failing: usize,
        /// Expired ignore entries (they fail the gate).
        n_expired: usize,
        /// The JSON summary.
        report: PathBuf,
    },
    /// The vulnerability scanner could not run, and this command does not accept that.
    #[error("vulnerability scan not run for {images}: the vulnerability database is unavailable")]
    VulnerabilityScanNotRun {
        /// The images concerned.
        images: String,
    },
    /// A Dockerfile template could not be rendered.
    #[error("{}:{line}: {message} (known: {known})", file.display())]
    Template {
        /// The template file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
        /// The placeholder names that exist.
        known: String,
    },
    /// A base image is missing and there is no way to make it.
    #[error("base image {image} (`base.{name}`) is not present, could not be pulled ({pull_error}), and has no [base.{name}.bootstrap] recipe")]
    BaseUnavailable {
        /// Name of the base in deploy.toml.
        name: String,
        /// Image reference.
        image: String,
        /// Why the pull failed, or that pulling is off.
        pull_error: String,
    },
    /// A step in the builder container failed.
    #[error("builder step `{step}` failed with exit code {exit_code}\n--- last {} lines of the builder output ---\n{}", tail.len(), tail.join("\n"))]
    BuilderStepFailed {
        /// The step, as the builder script announced it (`wheels`, `tests`, `collectstatic`, ...).
        step: String,
        /// Exit code of the builder.
        exit_code: i64,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// A step of `cargo xtask dev` failed in its container (the migrations, the app's server at start).
    #[error("dev: {what} failed with exit code {exit_code}\n--- last {} lines of its output ---\n{}", tail.len(), tail.join("\n"))]
    DevStepFailed {
        /// What ran (`migrations`, `the app server`).
        what: String,
        /// Its exit code.
        exit_code: i64,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// `cargo xtask dev` while a dev session of the project runs: a second one would start its services on the same
    /// kept data.
    #[error("a dev session of {project} already runs (its network {network})")]
    DevSessionRunning {
        /// The project.
        project: String,
        /// The running session's network (its id).
        network: String,
    },
    /// `cargo xtask dev` could not watch the project for changes.
    #[error(transparent)]
    Watch(#[from] dockyard_dev::WatchError),
    /// Another platform of `[platforms]` needs a wheel of a package the builder made for this machine alone, and the
    /// index has none for it.
    #[error("no {architecture} wheel of {}: the builder made it for this machine alone, and the index has no {machine} wheel of the same release", packages.join(", "))]
    NoPlatformWheel {
        /// Debian's name of the platform's architecture, `arm64`.
        architecture: String,
        /// The machine in wheel tags, `aarch64`.
        machine: String,
        /// Each package with its version and the wheel the builder made.
        packages: Vec<String>,
    },
    /// A package's sdist did not build into a wheel for another platform in that platform's builder base.
    #[error("the sdist of {package} does not build for {architecture} in {base}: exit code {exit_code}\n--- last {} lines of its output ---\n{}", tail.len(), tail.join("\n"))]
    PlatformWheelBuildFailed {
        /// Debian's name of the platform's architecture, `arm64`.
        architecture: String,
        /// The package and its version, `crcmod 1.7`.
        package: String,
        /// The builder base, `dockyard/python-builder:bookworm-arm64 (base.builder-arm64)`.
        base: String,
        /// `pip wheel`'s exit code.
        exit_code: i64,
        /// The last lines it printed.
        tail: Vec<String>,
    },
    /// A download did not match the hashes the lock pins.
    #[error("the lock's hashes do not match what was downloaded for {}", packages.join(", "))]
    HashMismatch {
        /// The packages, as the installer named them (`six==1.16.0`).
        packages: Vec<String>,
        /// The last lines of the builder's output.
        tail: Vec<String>,
    },
    /// A backing service the builder's tests run against did not start, never became ready, or runs the wrong
    /// version or password.
    #[error("builder {0}")]
    BuilderServices(dockyard_services::ServiceError),
    /// The `[assets]` install or build exited with an error.
    #[error("assets {phase} failed with exit code {exit_code}\n--- last {} lines of its output ---\n{}", tail.len(), tail.join("\n"))]
    AssetsFailed {
        /// `install` or `build`, as the assets script announced it.
        phase: String,
        /// Its exit code.
        exit_code: i64,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// The `[assets]` install or build did not finish in time and was stopped.
    #[error("assets {phase} did not finish within {seconds} s and was stopped\n--- last {} lines of its output ---\n{}", tail.len(), tail.join("\n"))]
    AssetsTimedOut {
        /// `install` or `build`, as the assets script announced it.
        phase: String,
        /// `[assets] timeout_seconds`.
        seconds: u64,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// The lock file the frozen install needs is not there.
    #[error("assets: no lock file {}: the frozen install refuses to run without it", path.display())]
    AssetsLockMissing {
        /// Where it was expected.
        path: PathBuf,
        /// The install that needs it.
        install: String,
    },
    /// An image build failed.
    #[error("building image {image} failed: {message}")]
    ImageBuildFailed {
        /// The image being built.
        image: String,
        /// The engine's message (for example the failing Dockerfile step).
        message: String,
    },
    /// Installing the wheels into the virtualenv in a container of the production base failed (the assembled
    /// production image's dependencies layer).
    #[error("installing the wheels into the production image {image} failed: {base} exited with {exit_code}\n--- last {} lines of its output ---\n{}", tail.len(), tail.join("\n"))]
    DependenciesLayerFailed {
        /// The production image.
        image: String,
        /// The base image the container ran.
        base: String,
        /// The script's exit code.
        exit_code: i64,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// A file Dockyard needs to read or write.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What Dockyard was doing, as a lowercase fragment.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A step needs the output of an earlier one that is not there.
    #[error("{what} is missing: {path}")]
    MissingArtifact {
        /// What was expected.
        what: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// Smoke checks failed; the report says which.
    #[error("{n_failed} smoke checks failed (report: {})", report.display())]
    SmokeFailed {
        /// How many checks failed.
        n_failed: usize,
        /// The JSON report.
        report: PathBuf,
    },
    /// The release refused to start, a push failed, or registry credentials could not be read.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// The operating system gave no random bytes for a throwaway secret key.
    #[error("cannot read random bytes for the throwaway secret key: {0}")]
    Randomness(getrandom::Error),
    /// `scan` was asked for, but deploy.toml has no [scan] table.
    #[error("no scan configured: deploy.toml has no [scan] table")]
    ScanNotConfigured,
    /// The app source changed between the plan and the upload: the planned inputs would not describe the build.
    #[error("the app source changed while the run used it: planned sha256 {planned}, found {found} in {}", path.display())]
    SourceChanged {
        /// The app folder.
        path: PathBuf,
        /// The sha256 the plan computed.
        planned: String,
        /// The sha256 of what would have been uploaded.
        found: String,
    },
    /// The project asks for a Python that `[python] version` does not give.
    #[error("{}: the project asks for Python {request}, but the base images bring Python {offered} (`[python] version = \"{version}\"` in deploy.toml)", file.display())]
    PythonNotOffered {
        /// The file holding the request (pyproject.toml, .python-version, runtime.txt).
        file: PathBuf,
        /// The request as the user reads it.
        request: String,
        /// The release the chosen version brings, `3.11.2`.
        offered: String,
        /// `[python] version` as resolved.
        version: String,
        /// The versions on offer that satisfy every request (may be empty).
        fitting: Vec<String>,
    },
    /// The project asks for a Python that one of `[matrix] python` is not.
    #[error("{}: the project asks for Python {request}, but `[matrix] python` runs the tests on Python {offered} too", file.display())]
    MatrixPythonNotAllowed {
        /// The file holding the request.
        file: PathBuf,
        /// The request as the user reads it.
        request: String,
        /// The release that matrix Python brings, `3.13.5`.
        offered: String,
        /// The matrix entry, `3.13`.
        version: String,
    },
    /// A step for another Python of `[matrix] python` failed: its builder image or its tests.
    #[error("on Python {python} of [matrix]: {error}")]
    OnMatrixPython {
        /// The matrix Python, `3.13`.
        python: String,
        /// What failed.
        error: Box<PipelineError>,
    },
    /// The images of another platform of `[platforms] targets` could not be made.
    #[error("on {architecture} of [platforms]: {error}")]
    OnPlatform {
        /// The Debian architecture, `arm64`.
        architecture: String,
        /// What failed.
        error: Box<PipelineError>,
    },
    /// The engine `[platforms] engines` names for a platform does not answer.
    #[error("cannot reach {platform}'s engine at {host} ([platforms] engines): {reason}")]
    PlatformEngineUnreachable {
        /// The OCI platform, `linux/arm64`.
        platform: String,
        /// The address as deploy.toml writes it.
        host: String,
        /// What the client said.
        reason: String,
    },
    /// A `[[python.ignore]]` entry names a file whose requests the chosen Python satisfies (or that asks for none).
    #[error("{}: `{key}` overrides {}, but `[python] version = \"{version}\"` satisfies what it asks for", deploy_file.display(), file.display())]
    PythonIgnoreUnused {
        /// deploy.toml.
        deploy_file: PathBuf,
        /// `python.ignore[0]`.
        key: String,
        /// The request file it names.
        file: PathBuf,
        /// `[python] version` as resolved.
        version: String,
    },
    /// The project's Python request files could not be read.
    #[error(transparent)]
    Python(#[from] dockyard_python::PythonError),
    /// A bug in Dockyard: the executor was asked for something its plan cannot hold.
    #[error("internal error: {0}")]
    Internal(String),
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

impl PipelineError {
    /// The documented process exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            PipelineError::Config(_)
            | PipelineError::Template { .. }
            | PipelineError::PythonNotOffered { .. }
            | PipelineError::PythonIgnoreUnused { .. }
            | PipelineError::MatrixPythonNotAllowed { .. }
            | PipelineError::Python(_) => exit_code::INVALID_CONFIG,
            PipelineError::OnMatrixPython { error, .. }
            | PipelineError::OnPlatform { error, .. } => error.exit_code(),
            PipelineError::Engine(error) if error.is_unreachable() => exit_code::ENGINE_UNREACHABLE,
            PipelineError::PlatformEngineUnreachable { .. } => exit_code::ENGINE_UNREACHABLE,
            PipelineError::Base(
                dockyard_base::BaseError::MmdebstrapMissing { .. }
                | dockyard_base::BaseError::EmulationMissing { .. },
            )
            | PipelineError::BaseUnavailable { .. }
            | PipelineError::Tools(_) => exit_code::MISSING_PREREQUISITE,
            PipelineError::Interrupted => exit_code::INTERRUPTED,
            PipelineError::DevSessionRunning { .. } => exit_code::USAGE,
            PipelineError::Smoke(error) if error.is_engine_unreachable() => {
                exit_code::ENGINE_UNREACHABLE
            }
            PipelineError::Smoke(dockyard_smoke::SmokeError::Io { .. }) => exit_code::UNEXPECTED,
            // A service that fails in smoke is a failed smoke run; in the builder, a failed build.
            PipelineError::Smoke(dockyard_smoke::SmokeError::Service(_)) => exit_code::SMOKE_FAILED,
            PipelineError::BuilderServices(dockyard_services::ServiceError::Engine(error))
                if error.is_unreachable() =>
            {
                exit_code::ENGINE_UNREACHABLE
            }
            PipelineError::SmokeFailed { .. } => exit_code::SMOKE_FAILED,
            PipelineError::Release(error) => match error {
                ReleaseError::DirtyTree
                | ReleaseError::InvalidVersion { .. }
                | ReleaseError::NoReleaseTable
                | ReleaseError::Unscanned
                | ReleaseError::SigningKeyMissing { .. }
                | ReleaseError::SigningKeyInvalid { .. } => exit_code::RELEASE_REFUSED,
                ReleaseError::PushFailed { .. } | ReleaseError::Credentials(_) => {
                    exit_code::PUSH_FAILED
                }
                ReleaseError::Engine(error) if error.is_unreachable() => {
                    exit_code::ENGINE_UNREACHABLE
                }
                ReleaseError::Io { .. } => exit_code::UNEXPECTED,
                ReleaseError::Engine(_) | ReleaseError::Context(_) | ReleaseError::Image(_) => {
                    exit_code::BUILD_FAILED
                }
            },
            PipelineError::ScanPolicyViolated { .. } => exit_code::SCAN_POLICY_VIOLATED,
            PipelineError::VulnerabilityScanNotRun { .. } => exit_code::SCAN_INFRASTRUCTURE,
            PipelineError::Scan(error) if error.is_infrastructure() => {
                exit_code::SCAN_INFRASTRUCTURE
            }
            PipelineError::Scan(_) => exit_code::INVALID_CONFIG,
            PipelineError::ScanNotConfigured => exit_code::SCAN_INFRASTRUCTURE,
            PipelineError::Io { .. }
            | PipelineError::Watch(_)
            | PipelineError::Internal(_)
            | PipelineError::Randomness(_) => exit_code::UNEXPECTED,
            PipelineError::Engine(_)
            | PipelineError::Base(_)
            | PipelineError::Context(_)
            | PipelineError::Image(_)
            | PipelineError::Smoke(_)
            | PipelineError::BuilderStepFailed { .. }
            | PipelineError::DevStepFailed { .. }
            | PipelineError::HashMismatch { .. }
            | PipelineError::NoPlatformWheel { .. }
            | PipelineError::PlatformWheelBuildFailed { .. }
            | PipelineError::BuilderServices(_)
            | PipelineError::AssetsFailed { .. }
            | PipelineError::AssetsTimedOut { .. }
            | PipelineError::AssetsLockMissing { .. }
            | PipelineError::SourceChanged { .. }
            | PipelineError::ImageBuildFailed { .. }
            | PipelineError::DependenciesLayerFailed { .. }
            | PipelineError::MissingArtifact { .. } => exit_code::BUILD_FAILED,
        }
    }

    /// The engine `[platforms] engines` names for `platform` at `host` did not answer: `error` says why.
    pub fn platform_engine_unreachable(
        platform: &str,
        host: &str,
        error: dockyard_engine::EngineError,
    ) -> PipelineError {
        let reason = match error {
            dockyard_engine::EngineError::Unreachable { reason, .. } => reason,
            other => other.to_string(),
        };
        PipelineError::PlatformEngineUnreachable {
            platform: platform.to_owned(),
            host: host.to_owned(),
            reason,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PipelineError::Config(error) => error.hint().map(str::to_owned),
            PipelineError::Engine(error) => error.hint(),
            PipelineError::Base(error) => error.hint(),
            PipelineError::Context(error) => error.hint(),
            PipelineError::Image(_) => Some("check that target/dockyard/ is writable and the disk has room, then run again".to_owned()),
            PipelineError::Smoke(error) => error.hint(),
            PipelineError::Template { .. } => Some("use one of the known placeholders, or remove the braces".to_owned()),
            PipelineError::BaseUnavailable { name, .. } => Some(format!(
                "add a [base.{name}.bootstrap] table (suite and packages) so Dockyard can bootstrap it with mmdebstrap, or load the image into the engine"
            )),
            PipelineError::BuilderStepFailed { step, .. } => Some(match step.as_str() {
                "tests" => "the app's own tests failed: run them locally, or change app.test_command in deploy.toml".to_owned(),
                "dependencies" => "installing uv from PyPI or exporting uv.lock failed: check that PyPI is reachable from containers (behind a TLS-intercepting proxy set builder.ca_bundle or DOCKYARD_CA_BUNDLE) and that uv.lock is current (`uv lock --check`)".to_owned(),
                "wheels" | "install" => "check the dependency files ([dependencies] or app.requirements), and that PyPI is reachable from containers (behind a TLS-intercepting proxy set builder.ca_bundle or DOCKYARD_CA_BUNDLE)".to_owned(),
                "collectstatic" => "run `python manage.py collectstatic` locally; check STATIC_ROOT against app.static_root".to_owned(),
                "assets install" | "assets build" => "the [assets] install or build failed in the builder: run it locally after installing the requirements; check [assets] build_command and the lock file".to_owned(),
                _ => "the builder output above shows the failing command".to_owned(),
            }),
            PipelineError::DevStepFailed { what, .. } => Some(format!("the output above shows why {what} stopped; fix the source and run `cargo xtask dev` again (the services' data is kept)")),
            PipelineError::Watch(error) => Some(error.hint()),
            PipelineError::DevSessionRunning { .. } => Some("use the running session (one-off commands beside it: `cargo xtask dev -- manage.py shell`), or stop it with Ctrl-C first; `cargo xtask clean` removes what a killed session left".to_owned()),
            PipelineError::NoPlatformWheel { architecture, machine, .. } => Some(format!("pin a release of each that publishes {machine} wheels (manylinux) or an sdist, which Dockyard builds for {architecture} in the platform's builder base (Dockyard's built-in builder's twin, or a written `[base.builder-{architecture}]` when the builder's base is deploy.toml's own); or take linux/{architecture} out of `[platforms] targets`")),
            PipelineError::PlatformWheelBuildFailed { architecture, .. } => Some(format!("the output above says why: a C library's headers go in `[builder] packages` (Debian's -dev package), which the {architecture} builder base gets too; or pin a release with wheels for {architecture}, or take linux/{architecture} out of `[platforms] targets`")),
            PipelineError::HashMismatch { .. } => Some("the index served files whose sha256 the lock does not pin: if the lock was edited by hand or the package was re-published, lock again (`uv lock`, `poetry lock`, `pipenv lock`, or `pip-compile --generate-hashes`); otherwise treat it as tampering and do not ship".to_owned()),
            PipelineError::BuilderServices(error) => error.hint(),
            PipelineError::AssetsFailed { phase, .. } => Some(match phase.as_str() {
                "install" => "the frozen install refuses a lock file that disagrees with package.json: run the install locally (`npm install`, `yarn install`, `pnpm install`) and commit the updated lock file; behind a TLS-intercepting proxy set builder.ca_bundle or DOCKYARD_CA_BUNDLE".to_owned(),
                _ => "run the build locally with the same environment ([assets.env]); check [assets] build_script or build_command".to_owned(),
            }),
            PipelineError::AssetsTimedOut { .. } => Some("a build that watches for changes never exits: set NODE_ENV=production in [assets.env] or pass the build's no-watch flag; raise [assets] timeout_seconds for a slow build".to_owned()),
            PipelineError::AssetsLockMissing { install, .. } => Some(format!("run the install once locally to write the lock file and commit it; `{install}` installs exactly what it pins")),
            PipelineError::MissingArtifact { .. } => Some("run the earlier step first (`cargo xtask export`), or `cargo xtask build` for everything".to_owned()),
            PipelineError::Scan(error) => error.hint(),
            PipelineError::Tools(error) => Some(error.hint()),
            PipelineError::ScanPolicyViolated { .. } => Some(
                "fix the findings in the table above, or accept a risk with a [[scan.ignore]] entry (id, reason, expires) in deploy.toml".to_owned(),
            ),
            PipelineError::VulnerabilityScanNotRun { .. } => Some(format!(
                "provide the database offline: {}; `--allow-missing-vulnerability-db` accepts the gap for a local run",
                dockyard_scan::database::OFFLINE_DATABASE_HOWTO
            )),
            PipelineError::Release(error) => error.hint(),
            PipelineError::SmokeFailed { .. } => Some("the table above shows each failed check, expected against actual, and the containers' logs".to_owned()),
            PipelineError::PythonNotOffered { fitting, .. } => Some(match fitting.as_slice() {
                [] => format!("Dockyard offers Python {}; change the project's request, build on a base image of your own that brings a fitting Python ([base.runtime] and [base.builder] in deploy.toml), or, when the file does not speak for the containers (a Heroku runtime.txt), run on an offered Python on purpose with a `[[python.ignore]]` entry (file, reason)", dockyard_config::PythonVersion::ALL.iter().map(|python| format!("{python} (Debian {})", python.debian_suite())).collect::<Vec<_>>().join(" and ")),
                fitting => format!("set `[python] version = \"{}\"` in deploy.toml", fitting[0]),
            }),
            PipelineError::MatrixPythonNotAllowed { version, .. } => Some(format!("take \"{version}\" out of `[matrix] python`, or, when the file does not speak for the containers, run the tests there on purpose with a `[[python.ignore]]` entry (file, reason)")),
            PipelineError::OnMatrixPython { python, error } => Some(match error.hint() {
                Some(hint) => format!("{hint}; it failed on Python {python} only: fix it there, or take \"{python}\" out of `[matrix] python`"),
                None => format!("it failed on Python {python} only: fix it there, or take \"{python}\" out of `[matrix] python`"),
            }),
            PipelineError::OnPlatform { architecture, error } => Some(match error.hint() {
                Some(hint) => format!("{hint}; it failed for {architecture} only"),
                None => format!("it failed for {architecture} only; take it out of `[platforms] targets` to release this machine's platform alone"),
            }),
            PipelineError::PlatformEngineUnreachable { platform, host, .. } => Some(format!("start the engine at {host} or fix its address in `[platforms] engines` (`cargo xtask doctor` checks it); without the entry {platform}'s images are made on this machine's engine, under emulation")),
            PipelineError::PythonIgnoreUnused { key, .. } => Some(format!("remove the `[[python.ignore]]` entry ({key}): nothing is overridden any more")),
            PipelineError::Python(error) => error.hint(),
            PipelineError::ScanNotConfigured => Some("add a [scan] table with trivy_version (see the repository's deploy.toml); `smoke` and `check` run without one, with a warning".to_owned()),
            PipelineError::SourceChanged { .. } => Some("nothing was built from it; run the command again once the files stop changing (an editor or a generator wrote to the app folder)".to_owned()),
            PipelineError::Internal(_) => Some("this is a bug in Dockyard; please report it with the command line".to_owned()),
            PipelineError::DependenciesLayerFailed { .. } => Some("the production base must run the builder's Python with its venv module (`python3 -m venv`; Debian: python3-venv), so the wheels the builder made install there: check [production] base and its [base.NAME] recipe".to_owned()),
            PipelineError::ImageBuildFailed { .. } | PipelineError::Io { .. } | PipelineError::Randomness(_) | PipelineError::Interrupted => None,
        }
    }
}
