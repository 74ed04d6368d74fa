//! An image the engine holds, said to be for another architecture: the engine's import records its own architecture
//! whatever the root filesystem is, so the configuration of its `docker save` archive is rewritten with the right one
//! and loaded back in an archive without layer files (the engine holds every layer already).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::archive::{saved_image, write_raw_archive, RawImage};
use crate::error::ImageError;

/// The largest archive member read as JSON (a manifest or a configuration); layers are skipped unread.
const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// Reads the one image of `saved` (a `docker save` archive the engine wrote), sets its configuration's `architecture`
/// (and `variant` when given, `v8` for arm64 as OCI names it), and writes `out`: that configuration and a manifest
/// tagged `tag` naming the same layers, without their files. Returns the new image id (the configuration's sha256).
pub fn retarget_saved_image(
    saved: &Path,
    out: &Path,
    tag: &str,
    architecture: &str,
    variant: Option<&str>,
) -> Result<String, ImageError> {
    let not_an_archive = |reason: &str| ImageError::NotAnArchive {
        path: saved.to_path_buf(),
        reason: reason.to_owned(),
    };
    let file = File::open(saved).map_err(ImageError::io("opening", saved))?;
    let mut tar = tar::Archive::new(BufReader::new(file));
    let mut json: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in tar.entries().map_err(ImageError::io("reading", saved))? {
        let mut entry = entry.map_err(ImageError::io("reading", saved))?;
        let name = entry
            .path()
            .map_err(ImageError::io("reading", saved))?
            .to_string_lossy()
            .into_owned();
        if !name.ends_with(".json") || entry.header().size().unwrap_or(u64::MAX) > MAX_JSON_BYTES {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(ImageError::io("reading", saved))?;
        json.insert(name, bytes);
    }
    let parse = |name: &str| -> Result<serde_json::Value, ImageError> {
        let bytes = json
            .get(name)
            .ok_or_else(|| not_an_archive(&format!("no {name}")))?;
        serde_json::from_slice(bytes).map_err(|error| not_an_archive(&error.to_string()))
    };
    let manifest = parse("manifest.json")?;
    let (config_name, layers) = saved_image(&manifest, not_an_archive)?;
    let mut config = parse(&config_name)?;
    let fields = config
        .as_object_mut()
        .ok_or_else(|| not_an_archive("the configuration is not an object"))?;
    fields.insert("architecture".to_owned(), architecture.into());
    match variant {
        Some(variant) => fields.insert("variant".to_owned(), variant.into()),
        None => fields.remove("variant"),
    };
    let config_bytes =
        serde_json::to_vec(&config).map_err(|error| not_an_archive(&error.to_string()))?;
    let id = format!("sha256:{}", hex::encode(Sha256::digest(&config_bytes)));
    write_raw_archive(
        out,
        &RawImage {
            config_name: format!("{}.json", id.trim_start_matches("sha256:")),
            config: &config_bytes,
            tag,
            layers: &layers,
        },
    )?;
    Ok(id)
}

/// The OCI platform variant of a Debian architecture, where OCI names one (`arm64` is `v8`, `armhf` is `v7`).
pub fn oci_variant(architecture: &str) -> Option<&'static str> {
    match architecture {
        "arm64" => Some("v8"),
        "armhf" => Some("v7"),
        _ => None,
    }
}

/// The OCI architecture of a Debian one (`armhf` is `arm`, `ppc64el` is `ppc64le`, `i386` is `386`).
pub fn oci_architecture(architecture: &str) -> &str {
    match architecture {
        "armhf" => "arm",
        "ppc64el" => "ppc64le",
        "i386" => "386",
        other => other,
    }
}
