//! trivy's vulnerability database in a cache folder: where it lives, the schema the pinned trivy reads, its metadata, and how to provide one offline.
//!
//! trivy keeps the database as `CACHE/db/trivy.db` (BoltDB) beside `CACHE/db/metadata.json`
//! (`{"Version": 2, "NextUpdate": …, "UpdatedAt": …, "DownloadedAt": …}`). trivy downloads it
//! from an OCI repository; on a machine that cannot, the documented air-gapped setup is a database
//! copied into the cache folder and `--skip-db-update` (`[scan] skip_db_update = true`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ScanError;

/// The database schema the pinned trivy reads (`trivy-db:2`); a database of another schema fails.
pub const TRIVY_DB_SCHEMA_VERSION: u32 = 2;

/// Where trivy downloads the database from when `[scan] db_repository` is not set, in its order.
pub const DEFAULT_DB_REPOSITORIES: [&str; 2] = [
    "mirror.gcr.io/aquasec/trivy-db:2",
    "ghcr.io/aquasecurity/trivy-db:2",
];

/// How to give trivy its database on a machine that cannot download it: the one wording every
/// hint and `doctor` use, after "provide the database offline: ".
pub const OFFLINE_DATABASE_HOWTO: &str = "on a connected machine \
     `trivy image --download-db-only --cache-dir DIR`, copy DIR/db (trivy.db and metadata.json) \
     into [scan] cache_dir's db/ folder and set [scan] skip_db_update = true; or set [scan] \
     db_repository to a mirror of trivy-db:2 the machine can reach (for example in your own \
     registry: `oras cp ghcr.io/aquasecurity/trivy-db:2 REGISTRY/trivy-db:2`)";

/// The folder holding `trivy.db` and `metadata.json` inside a trivy cache folder.
pub fn database_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("db")
}

/// What `metadata.json` says about a database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatabaseMetadata {
    /// The schema version; the pinned trivy reads [`TRIVY_DB_SCHEMA_VERSION`].
    pub version: u32,
    /// When the database was built (RFC 3339), when written.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// When trivy would next download a fresh one (RFC 3339), when written.
    #[serde(default)]
    pub next_update: Option<String>,
}

/// The metadata of the database in `cache_dir`, `None` when there is no database there (neither
/// file). A database without its metadata, or metadata trivy could not read, is an error.
pub fn read_metadata(cache_dir: &Path) -> Result<Option<DatabaseMetadata>, ScanError> {
    let dir = database_dir(cache_dir);
    let metadata_path = dir.join("metadata.json");
    let database_path = dir.join("trivy.db");
    let text = match std::fs::read_to_string(&metadata_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if database_path.exists() {
                return Err(ScanError::DatabaseUnreadable {
                    path: metadata_path,
                    detail: "trivy.db is there, but its metadata.json is missing".to_owned(),
                });
            }
            return Ok(None);
        }
        Err(error) => {
            return Err(ScanError::DatabaseUnreadable {
                path: metadata_path,
                detail: error.to_string(),
            })
        }
    };
    let metadata: DatabaseMetadata =
        serde_json::from_str(&text).map_err(|error| ScanError::DatabaseUnreadable {
            path: metadata_path.clone(),
            detail: error.to_string(),
        })?;
    if !database_path.is_file() {
        return Err(ScanError::DatabaseUnreadable {
            path: database_path,
            detail: "metadata.json is there, but the database file is missing".to_owned(),
        });
    }
    Ok(Some(metadata))
}
