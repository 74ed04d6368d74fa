//! The closed sets of names deploy.toml chooses from: [`Severity`], [`Scanner`], [`ImageKind`], [`HttpMethod`], [`Via`],
//! [`PythonVersion`], [`DependencyFormat`], [`PackageManager`], [`AssetsRunsIn`], [`DevServer`], [`ServiceKind`] and [`ServiceValue`].
//!
//! Each one is the single home of its spellings: resolving turns the written name into the
//! enum (or refuses it with a did-you-mean hint built from [`ALL`](Severity::ALL)), and the rest of
//! Dockyard matches on the enum and writes [`as_str`](Severity::as_str) where a tool wants text.

use std::fmt;

/// What resolving needs of a closed set to check a written name and word its hints.
pub(crate) trait ClosedSet: Copy + PartialEq + 'static {
    /// Every name, in declaration order.
    const NAMES: &'static [&'static str];
    /// The name as deploy.toml spells it.
    fn as_str(self) -> &'static str;
    /// The value spelled exactly `name`, if any.
    fn from_name(name: &str) -> Option<Self>;
}

/// Defines a closed set of names: the enum, `ALL` in order, `as_str`, `from_name`, `Display` and
/// `Serialize` (as the name).
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$( $name::$variant, )+];
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$( $text, )+];

            /// The name as deploy.toml and the tools spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The value spelled exactly `name`, if any.
            pub fn from_name(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|value| value.as_str() == name)
            }
        }

        impl ClosedSet for $name {
            const NAMES: &'static [&'static str] = $name::NAMES;

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }

            fn from_name(name: &str) -> Option<$name> {
                $name::from_name(name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

closed_set! {
    /// A finding's severity as trivy spells it, ordered from [`Severity::Unknown`] (lowest) to
    /// [`Severity::Critical`], so `severity >= fail_on_severity` is the gate.
    #[derive(Default)]
    Severity {
        /// `UNKNOWN`, and any severity string trivy may add later.
        #[default]
        Unknown = "UNKNOWN",
        /// `LOW`.
        Low = "LOW",
        /// `MEDIUM`.
        Medium = "MEDIUM",
        /// `HIGH`.
        High = "HIGH",
        /// `CRITICAL`.
        Critical = "CRITICAL",
    }
}

impl Severity {
    /// All severities, from the highest to the lowest.
    pub const ALL_DESCENDING: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    /// The severity spelled `text` in any ASCII case, surrounding whitespace ignored.
    pub fn from_name_ignoring_case(text: &str) -> Option<Severity> {
        Severity::ALL
            .iter()
            .copied()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

closed_set! {
    /// One of trivy's scanners.
    Scanner {
        /// `vuln`: known vulnerabilities of installed packages (needs the vulnerability database).
        Vuln = "vuln",
        /// `secret`: secrets in files and in the image configuration.
        Secret = "secret",
        /// `misconfig`: misconfigurations in the image configuration and config files.
        Misconfig = "misconfig",
        /// `license`: package licenses (reported, not judged).
        License = "license",
    }
}

closed_set! {
    /// One of the images Dockyard builds.
    ImageKind {
        /// The production image, running the app.
        App = "app",
        /// The nginx image, serving the static files.
        Nginx = "nginx",
        /// The builder image, installing the requirements and running the tests.
        Builder = "builder",
    }
}

closed_set! {
    /// The HTTP methods smoke checks send.
    HttpMethod {
        /// `GET`.
        Get = "GET",
        /// `HEAD`.
        Head = "HEAD",
        /// `POST`.
        Post = "POST",
    }
}

closed_set! {
    /// Where a smoke check sends its request.
    Via {
        /// Through the nginx container, as visitors do.
        Nginx = "nginx",
        /// Straight to the app container.
        App = "app",
    }
}

closed_set! {
    /// The Python the built-in base images bring: Debian's own, so each version is a Debian suite.
    PythonVersion {
        /// Python 3.11, Debian 12 (bookworm); the default.
        Python3_11 = "3.11",
        /// Python 3.13, Debian 13 (trixie).
        Python3_13 = "3.13",
    }
}

impl PythonVersion {
    /// The version used when `[python] version` is not written.
    pub const DEFAULT: PythonVersion = PythonVersion::Python3_11;

    /// The short name that tells a matrix Python's bases, images, containers and volumes apart: `py313`.
    pub fn short_name(self) -> String {
        format!("py{}", self.as_str().replace('.', ""))
    }

    /// The Debian suite whose `python3` package is this version.
    pub fn debian_suite(self) -> &'static str {
        match self {
            PythonVersion::Python3_11 => "bookworm",
            PythonVersion::Python3_13 => "trixie",
        }
    }

    /// The exact release that suite ships (major, minor, patch), which a project's request is checked against.
    pub fn release(self) -> (u64, u64, u64) {
        match self {
            PythonVersion::Python3_11 => (3, 11, 2),
            PythonVersion::Python3_13 => (3, 13, 5),
        }
    }
}

closed_set! {
    /// `[dependencies] format`: how the app's Python dependencies are written down.
    DependencyFormat {
        /// pip requirements files (`-r`/`-c` includes and `--hash` pins honoured).
        Requirements = "requirements",
        /// `pyproject.toml` + `uv.lock`.
        Uv = "uv",
        /// `pyproject.toml` + `poetry.lock`.
        Poetry = "poetry",
        /// `Pipfile.lock` (with its `Pipfile`).
        Pipenv = "pipenv",
    }
}

closed_set! {
    /// The front-end package manager of `[assets]`, named by the lock file beside `package.json`.
    PackageManager {
        /// npm, `package-lock.json`.
        Npm = "npm",
        /// yarn v1, `yarn.lock`.
        Yarn = "yarn",
        /// pnpm, `pnpm-lock.yaml`.
        Pnpm = "pnpm",
    }
}

impl PackageManager {
    /// The lock file that names this manager; the install refuses to run without it.
    pub fn lock_file(self) -> &'static str {
        match self {
            PackageManager::Npm => "package-lock.json",
            PackageManager::Yarn => "yarn.lock",
            PackageManager::Pnpm => "pnpm-lock.yaml",
        }
    }

    /// The command that runs this manager in the Node base. Debian's `yarnpkg` is Yarn 4 (trixie), which reads a
    /// v1 `yarn.lock` only to rewrite it, so yarn v1 comes from the npm registry through `npx`, pinned to its last
    /// release; Debian ships no pnpm, so pnpm comes through `npx` too.
    pub fn program(self) -> &'static [&'static str] {
        match self {
            PackageManager::Npm => &["npm"],
            PackageManager::Yarn => &["npx", "--yes", "yarn@1.22.22"],
            PackageManager::Pnpm => &["npx", "--yes", "pnpm"],
        }
    }

    /// The install that follows the lock exactly and fails when the lock is missing or outdated. It installs into
    /// `node_modules` beside `package.json`, where Dockyard caches it: yarn is told so on the command line, which
    /// wins over a project's `.yarnrc` (`--modules-folder /node_modules`, written for its own Dockerfile).
    pub fn install_command(self) -> Vec<String> {
        let arguments: &[&str] = match self {
            PackageManager::Npm => &["ci"],
            PackageManager::Yarn => &[
                "install",
                "--frozen-lockfile",
                "--modules-folder",
                "node_modules",
            ],
            PackageManager::Pnpm => &["install", "--frozen-lockfile"],
        };
        self.program()
            .iter()
            .chain(arguments)
            .map(|part| (*part).to_owned())
            .collect()
    }

    /// The command that runs the `package.json` script `script`.
    pub fn run_script(self, script: &str) -> Vec<String> {
        self.program()
            .iter()
            .map(|part| (*part).to_owned())
            .chain(["run".to_owned(), script.to_owned()])
            .collect()
    }
}

closed_set! {
    /// Where `[assets]` runs its commands.
    AssetsRunsIn {
        /// A container of the Node base, before the builder; its output folders are handed to the builder.
        Node = "node",
        /// The builder container, after the Python dependencies are installed (Tailwind through `manage.py`).
        Builder = "builder",
    }
}

closed_set! {
    /// `[dev] server`: what serves the app in `cargo xtask dev`; Dockyard restarts it after each synced change.
    DevServer {
        /// Django's development server (`manage.py runserver`, its own reloader off: Dockyard restarts it).
        Runserver = "runserver",
        /// gunicorn on `[app] wsgi`, as production runs it.
        Gunicorn = "gunicorn",
    }
}

closed_set! {
    /// `[services.<name>] kind`: a backing service the app reaches over the run's private network.
    ServiceKind {
        /// PostgreSQL.
        Postgres = "postgres",
        /// Redis.
        Redis = "redis",
        /// RabbitMQ (AMQP 0-9-1).
        Rabbitmq = "rabbitmq",
    }
}

impl ServiceKind {
    /// The TCP port the service listens on inside its container.
    pub fn port(self) -> u16 {
        match self {
            ServiceKind::Postgres => 5432,
            ServiceKind::Redis => 6379,
            ServiceKind::Rabbitmq => 5672,
        }
    }

    /// The URL scheme of a connection URL (`postgres://`, `redis://`, `amqp://`).
    pub fn url_scheme(self) -> &'static str {
        match self {
            ServiceKind::Postgres => "postgres",
            ServiceKind::Redis => "redis",
            ServiceKind::Rabbitmq => "amqp",
        }
    }

    /// Where the service keeps its data inside the container (a volume labelled with the run is mounted there).
    pub fn data_dir(self) -> &'static str {
        match self {
            ServiceKind::Postgres => "/var/lib/postgresql/data",
            ServiceKind::Redis => "/data",
            ServiceKind::Rabbitmq => "/var/lib/rabbitmq",
        }
    }
}

closed_set! {
    /// `[services.<name>.env]` values: which part of the service's connection an environment variable receives.
    ServiceValue {
        /// The whole connection URL with the run's credentials (`postgres://user:password@db:5432/name`).
        Url = "url",
        /// The URL without the database part (`redis://:password@cache:6379`), for settings that append it
        /// themselves (`REDIS_URL + "/0"`).
        ServerUrl = "server_url",
        /// The host name on the run's network (the service's table name).
        Host = "host",
        /// The port.
        Port = "port",
        /// The user name.
        User = "user",
        /// The password, generated for each run.
        Password = "password",
        /// The database (PostgreSQL), the database number (Redis) or the virtual host (RabbitMQ).
        Database = "database",
    }
}
