//! Provenance of a run: git revision, creation time and the fixed mtime for tarballs (SOURCE_DATE_EPOCH).

use std::path::Path;

/// Where a run's outputs come from, as recorded in labels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// `git rev-parse HEAD`, or `unknown` outside a git checkout.
    pub revision: String,
    /// Seconds since the epoch for the `created` label: SOURCE_DATE_EPOCH, else the last commit's time, else 0.
    pub created_epoch: u64,
    /// The mtime of every tarball entry: SOURCE_DATE_EPOCH, else 0 (so commits alone do not change digests).
    pub source_date_epoch: u64,
    /// SOURCE_DATE_EPOCH as set in the environment, if it was (passed on to mmdebstrap).
    pub explicit_source_date_epoch: Option<u64>,
}

pub use dockyard_release::git::git;

/// Reads SOURCE_DATE_EPOCH and asks git about `root`.
pub fn detect(root: &Path) -> Provenance {
    let explicit_source_date_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|value| value.trim().parse().ok());
    let git = |args: &[&str]| git(root, args);
    let revision = git(&["rev-parse", "HEAD"])
        .filter(|revision| !revision.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let commit_time = git(&["log", "-1", "--format=%ct"]).and_then(|time| time.parse().ok());
    Provenance {
        revision,
        created_epoch: explicit_source_date_epoch.or(commit_time).unwrap_or(0),
        source_date_epoch: explicit_source_date_epoch.unwrap_or(0),
        explicit_source_date_epoch,
    }
}

/// Seconds since the epoch as an instant; past jiff's last whole second (late on 9999-12-30), that second.
pub fn timestamp(epoch: u64) -> jiff::Timestamp {
    let last = jiff::Timestamp::MAX.as_second();
    let second = i64::try_from(epoch).map_or(last, |second| second.min(last));
    jiff::Timestamp::from_second(second).unwrap_or_default()
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2024-01-31T12:00:00Z`), as OCI labels want.
pub fn rfc3339(epoch: u64) -> String {
    timestamp(epoch).to_string()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-30T22:00:00Z");
    }
}
