//! The image configuration (the JSON an engine stores for an image; its sha256 is the image id): what the container
//! runs, its environment, user, ports, health check and labels, and the diff ids of its layers.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The whole configuration, serialised in a fixed field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageConfig {
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// RFC 3339 time the image says it was created (from `SOURCE_DATE_EPOCH` or the commit, never the clock).
    pub created: String,
    /// What a container of the image runs.
    pub config: RuntimeConfig,
    /// The layers, bottom first.
    pub rootfs: RootFs,
    /// One entry per layer (and per metadata change), oldest first: what `docker history` shows.
    pub history: Vec<HistoryEntry>,
}

/// The container defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// `uid:gid`, or empty for root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `8000/tcp`.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "port_set")]
    pub exposed_ports: Vec<String>,
    /// `KEY=value`, in order.
    pub env: Vec<String>,
    /// The command (exec form).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// The health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// The working folder.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The signal that stops the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
}

/// A `HEALTHCHECK CMD`: durations in nanoseconds, as the engine stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", program, args...]`.
    pub test: Vec<String>,
    /// Between two checks.
    pub interval: u64,
    /// For one check.
    pub timeout: u64,
    /// Failures during this time after start do not count.
    pub start_period: u64,
    /// Consecutive failures that make the container unhealthy.
    pub retries: u32,
}

/// The layers' diff ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:...` of each uncompressed layer, bottom first.
    pub diff_ids: Vec<String>,
}

/// One line of the image's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// RFC 3339.
    pub created: String,
    /// What made it, for people.
    pub created_by: String,
    /// True for a change that added no layer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

fn port_set<S: serde::Serializer>(ports: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    let set: BTreeMap<&str, BTreeMap<(), ()>> = ports
        .iter()
        .map(|port| (port.as_str(), BTreeMap::new()))
        .collect();
    serializer.collect_map(set)
}

impl ImageConfig {
    /// A configuration for `layers` (diff ids, bottom first) with one history line per layer.
    pub fn new(
        architecture: &str,
        created: &str,
        config: RuntimeConfig,
        layers: &[(String, String)],
    ) -> ImageConfig {
        ImageConfig {
            architecture: architecture.to_owned(),
            os: "linux".to_owned(),
            created: created.to_owned(),
            config,
            rootfs: RootFs {
                kind: "layers".to_owned(),
                diff_ids: layers.iter().map(|(diff_id, _)| diff_id.clone()).collect(),
            },
            history: layers
                .iter()
                .map(|(_, created_by)| HistoryEntry {
                    created: created.to_owned(),
                    created_by: created_by.clone(),
                    empty_layer: false,
                })
                .collect(),
        }
    }

    /// The bytes the engine stores (compact JSON, fields in a fixed order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The image id these bytes give: `sha256:` and the hex sha256 of [`ImageConfig::to_bytes`].
    pub fn image_id(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(self.to_bytes())))
    }
}

/// `KEY=value` lines with `updates` applied as `ENV` does: an existing key keeps its place with the new value, a new
/// key is appended.
pub fn with_env(base: &[String], updates: &[(&str, String)]) -> Vec<String> {
    let mut env: Vec<String> = base.to_vec();
    for (key, value) in updates {
        let line = format!("{key}={value}");
        match env.iter_mut().find(|existing| {
            existing
                .split_once('=')
                .map_or(existing.as_str(), |(k, _)| k)
                == *key
        }) {
            Some(existing) => *existing = line,
            None => env.push(line),
        }
    }
    env
}
