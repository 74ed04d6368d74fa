//! The `docker save` archive: `manifest.json`, the configuration and the layers, the format the Engine API's image
//! load reads; and reading the layers back out of one an engine wrote.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::config::ImageConfig;
use crate::error::ImageError;

/// One layer of an archive: its diff id and, unless the engine already holds it, its tar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLayer {
    /// `sha256:...`.
    pub diff_id: String,
    /// The uncompressed layer; `None` leaves the file out (the engine reads a layer's file only when it lacks it).
    pub file: Option<PathBuf>,
}

fn layer_name(diff_id: &str) -> String {
    format!("{}/layer.tar", diff_id.trim_start_matches("sha256:"))
}

/// An image's configuration file and layer names as an archive holds them, without layer files.
pub(crate) struct RawImage<'a> {
    /// The configuration's member name, `<sha256>.json`.
    pub config_name: String,
    /// Its bytes.
    pub config: &'a [u8],
    /// The tag manifest.json gives it.
    pub tag: &'a str,
    /// The layers' member names, bottom first.
    pub layers: &'a [String],
}

/// Writes `out`: the configuration and `manifest.json` alone (the engine holds every layer).
pub(crate) fn write_raw_archive(out: &Path, image: &RawImage<'_>) -> Result<(), ImageError> {
    let manifest = serde_json::json!([{
        "Config": image.config_name,
        "RepoTags": [image.tag],
        "Layers": image.layers,
    }]);
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    let file = File::create(out).map_err(ImageError::io("creating", out))?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    let write = |builder: &mut tar::Builder<BufWriter<File>>| -> io::Result<()> {
        append_bytes(builder, &image.config_name, image.config)?;
        append_bytes(builder, "manifest.json", &manifest)?;
        builder.finish()?;
        builder.get_mut().flush()
    };
    write(&mut builder).map_err(ImageError::io("writing", out))
}

/// Writes `out`: the configuration, the layers that have a file, and `manifest.json` naming `tag`.
pub fn write_archive(
    out: &Path,
    config: &ImageConfig,
    tag: &str,
    layers: &[ArchiveLayer],
) -> Result<(), ImageError> {
    let config_bytes = config.to_bytes();
    let config_name = format!("{}.json", config.image_id().trim_start_matches("sha256:"));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": layers.iter().map(|layer| layer_name(&layer.diff_id)).collect::<Vec<_>>(),
    }]);
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    let file = File::create(out).map_err(ImageError::io("creating", out))?;
    let mut builder = tar::Builder::new(BufWriter::with_capacity(256 * 1024, file));
    let write = |builder: &mut tar::Builder<BufWriter<File>>| -> io::Result<()> {
        append_bytes(builder, &config_name, &config_bytes)?;
        for layer in layers {
            if let Some(file) = &layer.file {
                let mut header = archive_header();
                let reader = File::open(file)?;
                header.set_size(reader.metadata()?.len());
                builder.append_data(&mut header, layer_name(&layer.diff_id), reader)?;
            }
        }
        append_bytes(builder, "manifest.json", &manifest)?;
        builder.finish()?;
        builder.get_mut().flush()
    };
    write(&mut builder).map_err(ImageError::io("writing", out))
}

fn append_bytes<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> io::Result<()> {
    let mut header = archive_header();
    header.set_size(bytes.len() as u64);
    builder.append_data(&mut header, name, bytes)
}

/// A member of the archive: root's, 0644, time 0.
fn archive_header() -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

/// The one image a `docker save` manifest lists: its configuration's member name and its layers' member names.
pub(crate) fn saved_image(
    manifest: &serde_json::Value,
    not_an_archive: impl Fn(&str) -> ImageError,
) -> Result<(String, Vec<String>), ImageError> {
    let image = manifest
        .get(0)
        .ok_or_else(|| not_an_archive("manifest.json lists no image"))?;
    let config_name = image
        .get("Config")
        .and_then(|config| config.as_str())
        .ok_or_else(|| not_an_archive("manifest.json names no configuration"))?;
    Ok((config_name.to_owned(), strings(image.get("Layers"))))
}

/// The strings of a JSON array (`Layers`, `diff_ids`); none when it is missing or not an array.
pub(crate) fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    value
        .and_then(serde_json::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a `docker save` archive of one image (what the engine's image export writes): extracts its layers into
/// folder `into` and returns them bottom first, each with its diff id from the image's configuration.
pub fn read_saved_layers(archive: &Path, into: &Path) -> Result<Vec<ArchiveLayer>, ImageError> {
    let not_an_archive = |reason: &str| ImageError::NotAnArchive {
        path: archive.to_path_buf(),
        reason: reason.to_owned(),
    };
    let file = File::open(archive).map_err(ImageError::io("opening", archive))?;
    let mut tar = tar::Archive::new(BufReader::new(file));
    let read_error = ImageError::io("reading", archive);
    let entries = match tar.entries() {
        Ok(entries) => entries,
        Err(error) => return Err(read_error(error)),
    };
    let flat = |name: &str| into.join(name.replace('/', "_"));
    for entry in entries {
        let mut entry = entry.map_err(ImageError::io("reading", archive))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry
            .path()
            .map_err(ImageError::io("reading", archive))?
            .to_string_lossy()
            .into_owned();
        if name.contains("..") {
            return Err(not_an_archive("an entry name climbs out"));
        }
        let target = flat(&name);
        let mut out = File::create(&target).map_err(ImageError::io("creating", &target))?;
        io::copy(&mut entry, &mut out).map_err(ImageError::io("writing", &target))?;
    }
    let read_json = |path: &Path| -> Result<serde_json::Value, ImageError> {
        let bytes = std::fs::read(path).map_err(ImageError::io("reading", path))?;
        serde_json::from_slice(&bytes).map_err(|error| not_an_archive(&error.to_string()))
    };
    let manifest = read_json(&flat("manifest.json"))?;
    let (config_name, files) = saved_image(&manifest, not_an_archive)?;
    let config = read_json(&flat(&config_name))?;
    let diff_ids = strings(config.pointer("/rootfs/diff_ids"));
    if files.len() != diff_ids.len() {
        return Err(not_an_archive(
            "the layers and the configuration's diff ids disagree",
        ));
    }
    Ok(diff_ids
        .into_iter()
        .zip(files)
        .map(|(diff_id, file)| ArchiveLayer {
            diff_id,
            file: Some(flat(&file)),
        })
        .collect())
}
