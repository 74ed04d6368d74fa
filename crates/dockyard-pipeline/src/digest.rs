//! Input digests: every step's inputs as named parts, hashed into one digest and compared part by part.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The named inputs of one step, for example `source` -> its sha256. The digest covers every part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Part name to its digest or value.
    pub parts: BTreeMap<String, String>,
}

impl Inputs {
    /// Adds a part whose value is already a digest or a short string.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Inputs {
        self.parts.insert(name.to_owned(), value.into());
        self
    }

    /// Adds a part whose value is hashed first (file contents, rendered templates).
    pub fn with_bytes(self, name: &str, bytes: &[u8]) -> Inputs {
        self.with(name, sha256_hex(bytes))
    }

    /// The digest over every part, `sha256:<hex>`.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (name, value) in &self.parts {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
            hasher.update([0]);
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }

    /// Names of the parts that differ from `previous` (added, removed or changed).
    pub fn changed_since(&self, previous: &Inputs) -> Vec<String> {
        let mut names: Vec<String> = self
            .parts
            .iter()
            .filter(|(name, value)| previous.parts.get(*name) != Some(value))
            .map(|(name, _)| name.clone())
            .collect();
        names.extend(
            previous
                .parts
                .keys()
                .filter(|name| !self.parts.contains_key(*name))
                .cloned(),
        );
        names.sort();
        names
    }
}

pub use dockyard_context::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_covers_names_and_values() {
        let a = Inputs::default()
            .with("source", "1")
            .with("dockerfile", "2");
        let b = Inputs::default()
            .with("dockerfile", "2")
            .with("source", "1");
        assert_eq!(a.digest(), b.digest());
        assert_ne!(
            a.digest(),
            Inputs::default()
                .with("source", "1")
                .with("dockerfile", "3")
                .digest()
        );
        assert_ne!(
            a.digest(),
            Inputs::default()
                .with("source1", "")
                .with("dockerfile", "2")
                .digest()
        );
    }

    #[test]
    fn changed_parts_are_named() {
        let before = Inputs::default()
            .with("source", "1")
            .with("base", "x")
            .with("gone", "y");
        let after = Inputs::default()
            .with("source", "2")
            .with("base", "x")
            .with("new", "z");
        assert_eq!(after.changed_since(&before), ["gone", "new", "source"]);
    }
}
