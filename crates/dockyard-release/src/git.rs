//! The two questions a release asks git: is the tree dirty, and which tag is at HEAD.

use std::path::Path;

/// Runs `git ARGS` in `root`; its trimmed stdout when it succeeds, `None` when git is missing or fails.
pub(crate) fn git(root: &Path, args: &[&str]) -> Option<String> {
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
