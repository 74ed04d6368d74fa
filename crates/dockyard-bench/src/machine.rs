//! The machine a benchmark ran on: cores, memory, kernel, and the versions of the tools compared.

use serde::Serialize;

/// Facts about the machine and the tools, for BENCHMARKS.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// Logical cores available.
    pub cores: usize,
    /// Total memory, e.g. `23.4 GiB`.
    pub memory: String,
    /// The kernel release.
    pub kernel: String,
    /// The docker engine version and API version.
    pub engine: String,
    /// `tar --version`, first line.
    pub tar: String,
    /// `gzip --version`, first line.
    pub gzip: String,
    /// `rustc --version`.
    pub rustc: String,
}

/// The engine's version and API version, when it answers.
pub fn engine_version() -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let engine = dockyard_engine::Engine::connect().await.ok()?;
        let version = engine.version().await.ok()?;
        Some(format!("{} (API {})", version.version, version.api_version))
    })
}

/// Now, as `date -u` prints it (`unknown` without `date`).
pub fn utc_date() -> String {
    duct::cmd!("date", "-u", "+%Y-%m-%d %H:%M UTC")
        .read()
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Reads the machine facts; a tool that cannot be asked is `unknown`.
pub fn detect() -> Machine {
    let engine_version = engine_version();
    let first_line = |program: &str| {
        duct::cmd(program, ["--version"])
            .stdout_capture()
            .stderr_null()
            .unchecked()
            .read()
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Machine {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        memory,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned()),
        engine: engine_version.unwrap_or_else(|| "unknown".to_owned()),
        tar: first_line("tar"),
        gzip: first_line("gzip"),
        rustc: first_line("rustc"),
    }
}
