//! Base images from Debian packages: mmdebstrap recipes, their digests, and the root filesystems they make.
//!
//! This crate runs `mmdebstrap` and nothing else; importing the tarball into an engine is the
//! pipeline's job (through the engine crate). It never talks to Docker.
#![warn(missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use dockyard_config::Bootstrap;
use sha2::{Digest, Sha256};

/// Label carried by a bootstrapped base image: the digest of the recipe it was made from.
pub const RECIPE_LABEL: &str = "dev.dockyard.base.recipe";

/// What can go wrong while bootstrapping a base image.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    /// mmdebstrap is not installed.
    #[error("mmdebstrap is not installed, and base image {image} must be bootstrapped")]
    MmdebstrapMissing {
        /// The base image that needed it.
        image: String,
    },
    /// mmdebstrap ran and failed.
    #[error("mmdebstrap failed for base image {image} (suite {suite}): {reason}")]
    MmdebstrapFailed {
        /// The base image.
        image: String,
        /// The Debian suite.
        suite: String,
        /// Exit status and the last lines of its output.
        reason: String,
    },
    /// The recipe's architecture is foreign and no emulator for it is registered with the kernel.
    #[error("base image {image} is for {architecture}, which this machine runs only under emulation, and {entry} is not enabled in binfmt_misc")]
    EmulationMissing {
        /// The base image.
        image: String,
        /// Its Debian architecture.
        architecture: String,
        /// The binfmt_misc entry that would run it (`qemu-aarch64`).
        entry: String,
    },
}

impl BaseError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            BaseError::MmdebstrapMissing { .. } => Some("install it with `apt-get install -y mmdebstrap`, or make the image available to the engine (load, pull or build it)".to_owned()),
            BaseError::MmdebstrapFailed { .. } => {
                Some("check the package names in the base's [bootstrap] table and that a Debian mirror is reachable".to_owned())
            }
            BaseError::EmulationMissing { entry, .. } => Some(format!("install qemu's user-mode emulators and register them: `apt-get install -y qemu-user-static binfmt-support`, `mount -t binfmt_misc binfmt_misc {BINFMT_DIR}` (when not mounted), `update-binfmts --enable {entry}`; `cargo xtask doctor` shows what is enabled")),
        }
    }
}

/// The digest of a bootstrap recipe: suite, variant, sorted packages, mirror, the files it writes, the image
/// configuration it applies and the SOURCE_DATE_EPOCH it runs with.
/// Two recipes with the same digest make the same root filesystem (for a fixed mirror state).
pub fn recipe_digest(recipe: &Bootstrap, source_date_epoch: Option<u64>) -> String {
    let mut packages = recipe.packages.clone();
    packages.sort();
    packages.dedup();
    let mut hasher = Sha256::new();
    let files: Vec<String> = recipe
        .files
        .iter()
        .map(|file| format!("{}\0{}", file.path, file.content))
        .collect();
    for part in [
        "dockyard-base-recipe-v1",
        &recipe.suite,
        &recipe.variant,
        &packages.join(","),
        recipe.mirror.as_deref().unwrap_or(""),
        &source_date_epoch
            .map(|epoch| epoch.to_string())
            .unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    // Only recipes that write files or configure the image hash these parts, so the digests of plain recipes (and
    // the images bootstrapped from them) stay what they were.
    if !files.is_empty() || !recipe.changes.is_empty() {
        for part in [files.join("\0"), recipe.changes.join("\0")] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    // Likewise the architecture, hashed only when the recipe names one.
    if let Some(architecture) = &recipe.architecture {
        hasher.update(b"architecture\0");
        hasher.update(architecture.as_bytes());
        hasher.update([0]);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Where the recipe's `index`-th file is staged on the host before mmdebstrap uploads it into the root filesystem.
fn staged_file(files_dir: &Path, index: usize) -> PathBuf {
    files_dir.join(format!("file-{index}"))
}

/// The mmdebstrap command line for a recipe (without the program name). The recipe's files, staged in
/// `files_dir`, are uploaded into the root filesystem and made executable by customize hooks.
pub fn mmdebstrap_args(recipe: &Bootstrap, output: &Path, files_dir: &Path) -> Vec<String> {
    let mut args = vec![format!("--variant={}", recipe.variant)];
    if let Some(architecture) = &recipe.architecture {
        args.push(format!("--architectures={architecture}"));
    }
    if !recipe.packages.is_empty() {
        let mut packages = recipe.packages.clone();
        packages.sort();
        packages.dedup();
        args.push(format!("--include={}", packages.join(",")));
    }
    for (index, file) in recipe.files.iter().enumerate() {
        args.push(format!(
            "--customize-hook=upload {} {}",
            staged_file(files_dir, index).display(),
            file.path
        ));
        args.push(format!(
            "--customize-hook=chroot \"$1\" chmod 0755 {}",
            file.path
        ));
    }
    args.push(recipe.suite.clone());
    args.push(output.display().to_string());
    if let Some(mirror) = &recipe.mirror {
        args.push(mirror.clone());
    }
    args
}

/// Where the kernel lists the interpreters of foreign binaries (binfmt_misc).
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

pub use dockyard_config::native_architecture;

/// The name qemu's user-mode emulator of a Debian architecture registers under binfmt_misc (`qemu-aarch64` for
/// `arm64`); `None` for the architectures an amd64 kernel runs itself (`i386`).
pub fn qemu_binfmt_entry(architecture: &str) -> Option<&'static str> {
    match architecture {
        "arm64" => Some("qemu-aarch64"),
        "armhf" => Some("qemu-arm"),
        "ppc64el" => Some("qemu-ppc64le"),
        "s390x" => Some("qemu-s390x"),
        "riscv64" => Some("qemu-riscv64"),
        "amd64" => Some("qemu-x86_64"),
        _ => None,
    }
}

/// Whether this machine runs binaries of `architecture`: natively, or through an enabled qemu entry of binfmt_misc
/// under `binfmt_dir` (the kernel's [`BINFMT_DIR`]; a parameter for the tests). The error names the architecture and
/// the entry, for [`BaseError::EmulationMissing`]'s hint.
pub fn check_emulation(
    image: &str,
    architecture: &str,
    binfmt_dir: &Path,
) -> Result<&'static str, BaseError> {
    if architecture == native_architecture()
        || (native_architecture() == "amd64" && architecture == "i386")
    {
        return Ok("native");
    }
    let Some(entry) = qemu_binfmt_entry(architecture) else {
        return Ok("native");
    };
    let enabled = std::fs::read_to_string(binfmt_dir.join(entry))
        .is_ok_and(|text| text.lines().next() == Some("enabled"));
    if enabled {
        Ok(entry)
    } else {
        Err(BaseError::EmulationMissing {
            image: image.to_owned(),
            architecture: architecture.to_owned(),
            entry: entry.to_owned(),
        })
    }
}

/// Where mmdebstrap is, if it is installed.
pub fn find_mmdebstrap() -> Option<PathBuf> {
    which::which_global("mmdebstrap").ok()
}

/// Runs mmdebstrap to write the root filesystem of `recipe` as a tarball at `output`,
/// handing each line it prints to `on_line`.
pub fn bootstrap_rootfs(
    image: &str,
    recipe: &Bootstrap,
    source_date_epoch: Option<u64>,
    output: &Path,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), BaseError> {
    let program = find_mmdebstrap().ok_or_else(|| BaseError::MmdebstrapMissing {
        image: image.to_owned(),
    })?;
    let failed = |reason: String| BaseError::MmdebstrapFailed {
        image: image.to_owned(),
        suite: recipe.suite.clone(),
        reason,
    };
    let files_dir = output.with_extension("files");
    if !recipe.files.is_empty() {
        std::fs::create_dir_all(&files_dir)
            .map_err(|error| failed(format!("staging the recipe's files: {error}")))?;
        for (index, file) in recipe.files.iter().enumerate() {
            std::fs::write(staged_file(&files_dir, index), &file.content)
                .map_err(|error| failed(format!("staging {}: {error}", file.path)))?;
        }
    }
    let result = run_mmdebstrap(
        (program, image),
        recipe,
        source_date_epoch,
        (output, &files_dir),
        on_line,
    );
    if !recipe.files.is_empty() {
        let _ = std::fs::remove_dir_all(&files_dir);
    }
    result
}

fn run_mmdebstrap(
    (program, image): (PathBuf, &str),
    recipe: &Bootstrap,
    source_date_epoch: Option<u64>,
    (output, files_dir): (&Path, &Path),
    on_line: &mut dyn FnMut(&str),
) -> Result<(), BaseError> {
    let mut command = duct::cmd(program, mmdebstrap_args(recipe, output, files_dir))
        .stderr_to_stdout()
        .unchecked();
    if let Some(epoch) = source_date_epoch {
        command = command.env("SOURCE_DATE_EPOCH", epoch.to_string());
    }
    let failed = |reason: String| BaseError::MmdebstrapFailed {
        image: image.to_owned(),
        suite: recipe.suite.clone(),
        reason,
    };
    let reader = command
        .reader()
        .map_err(|error| failed(error.to_string()))?;
    let mut tail: Vec<String> = Vec::new();
    let mut lines = BufReader::new(&reader);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                let text = line.trim_end();
                on_line(text);
                tail.push(text.to_owned());
                if tail.len() > 15 {
                    tail.remove(0);
                }
            }
            Err(error) => return Err(failed(error.to_string())),
        }
    }
    let output_status = reader
        .try_wait()
        .map_err(|error| failed(error.to_string()))?;
    match output_status {
        Some(status) if status.status.success() => Ok(()),
        Some(status) => Err(failed(format!(
            "{}; last output:\n{}",
            status.status,
            tail.join("\n")
        ))),
        None => Err(failed("mmdebstrap did not finish".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(packages: &[&str]) -> Bootstrap {
        Bootstrap {
            suite: "bookworm".to_owned(),
            variant: "minbase".to_owned(),
            packages: packages.iter().map(|name| (*name).to_owned()).collect(),
            mirror: None,
            files: Vec::new(),
            changes: Vec::new(),
            architecture: None,
        }
    }

    #[test]
    fn an_architecture_reaches_mmdebstrap_and_the_digest_only_when_named() {
        let plain = recipe(&["python3"]);
        let arm = Bootstrap {
            architecture: Some("arm64".to_owned()),
            ..recipe(&["python3"])
        };
        let args = mmdebstrap_args(&arm, Path::new("/tmp/out.tar"), Path::new("/tmp/files"));
        assert_eq!(args[..2], ["--variant=minbase", "--architectures=arm64"]);
        assert!(
            !mmdebstrap_args(&plain, Path::new("/tmp/out.tar"), Path::new("/tmp/files"))
                .iter()
                .any(|arg| arg.starts_with("--architectures"))
        );
        assert_ne!(recipe_digest(&plain, None), recipe_digest(&arm, None));
        // A recipe without one keeps the digest it had before architectures existed (the v1 parts alone: suite,
        // variant, packages, mirror, epoch).
        assert_eq!(
            recipe_digest(&plain, None),
            "sha256:92916f738f4023b56fd93a71235fdc9b0d7194662cea82862343538905591dbd"
        );
    }

    #[test]
    fn emulation_is_found_in_binfmt_misc_or_missing_with_the_entry_named() {
        let folder = tempfile::tempdir().unwrap();
        let foreign = if native_architecture() == "arm64" {
            "amd64"
        } else {
            "arm64"
        };
        let entry = qemu_binfmt_entry(foreign).unwrap();
        assert_eq!(
            check_emulation("i", native_architecture(), folder.path()).unwrap(),
            "native"
        );
        match check_emulation("dockyard/x:bookworm", foreign, folder.path()) {
            Err(BaseError::EmulationMissing {
                image,
                architecture,
                entry: named,
            }) => {
                assert_eq!(
                    (image.as_str(), architecture.as_str(), named.as_str()),
                    ("dockyard/x:bookworm", foreign, entry)
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(
            folder.path().join(entry),
            "disabled\ninterpreter /usr/libexec/qemu\n",
        )
        .unwrap();
        assert!(
            check_emulation("i", foreign, folder.path()).is_err(),
            "a disabled entry runs nothing"
        );
        std::fs::write(
            folder.path().join(entry),
            "enabled\ninterpreter /usr/libexec/qemu\n",
        )
        .unwrap();
        assert_eq!(check_emulation("i", foreign, folder.path()).unwrap(), entry);
    }

    #[test]
    fn recipe_digest_ignores_package_order_and_duplicates() {
        assert_eq!(
            recipe_digest(&recipe(&["python3", "gcc"]), Some(1)),
            recipe_digest(&recipe(&["gcc", "python3", "gcc"]), Some(1))
        );
    }

    #[test]
    fn recipe_digest_changes_with_packages_and_epoch() {
        let base = recipe_digest(&recipe(&["python3"]), Some(1));
        assert_ne!(base, recipe_digest(&recipe(&["python3", "gcc"]), Some(1)));
        assert_ne!(base, recipe_digest(&recipe(&["python3"]), Some(2)));
        assert_ne!(base, recipe_digest(&recipe(&["python3"]), None));
    }

    #[test]
    fn mmdebstrap_args_sort_packages() {
        let args = mmdebstrap_args(
            &recipe(&["python3", "ca-certificates"]),
            Path::new("/tmp/out.tar"),
            Path::new("/tmp/out.files"),
        );
        assert_eq!(
            args,
            [
                "--variant=minbase",
                "--include=ca-certificates,python3",
                "bookworm",
                "/tmp/out.tar"
            ]
        );
    }

    #[test]
    fn a_recipe_s_files_are_uploaded_and_made_executable_and_change_its_digest() {
        let mut with_file = recipe(&["redis-server"]);
        with_file.files.push(dockyard_config::BootstrapFile {
            path: "/usr/local/bin/entrypoint".to_owned(),
            content: "#!/bin/sh\n".to_owned(),
        });
        let args = mmdebstrap_args(&with_file, Path::new("/tmp/out.tar"), Path::new("/tmp/f"));
        assert_eq!(
            &args[2..4],
            [
                "--customize-hook=upload /tmp/f/file-0 /usr/local/bin/entrypoint",
                "--customize-hook=chroot \"$1\" chmod 0755 /usr/local/bin/entrypoint",
            ]
        );
        let plain = recipe_digest(&recipe(&["redis-server"]), None);
        assert_ne!(plain, recipe_digest(&with_file, None));
        let mut with_change = recipe(&["redis-server"]);
        with_change
            .changes
            .push("CMD [\"redis-server\"]".to_owned());
        assert_ne!(plain, recipe_digest(&with_change, None));
    }
}
