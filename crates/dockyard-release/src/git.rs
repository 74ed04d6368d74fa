//! Asking git: the one place that runs it (a release asks whether the tree is dirty and which tag is at HEAD; the
//! pipeline's provenance asks for the revision and the last commit's time).

use std::path::Path;

/// Runs `git ARGS` in `root`; its trimmed stdout when it succeeds, `None` when git is missing or fails.
pub fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = duct::cmd("git", args)
        .dir(root)
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
