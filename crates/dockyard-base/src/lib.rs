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
}

impl BaseError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            BaseError::MmdebstrapMissing { .. } => Some("install it with `apt-get install -y mmdebstrap`, or make the image available to the engine (load, pull or build it)".to_owned()),
            BaseError::MmdebstrapFailed { .. } => {
                Some("check the package names in the base's [bootstrap] table and that a Debian mirror is reachable".to_owned())
            }
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
        }
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
