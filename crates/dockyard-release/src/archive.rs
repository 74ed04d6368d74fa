//! Releases without a registry: the images tagged locally and written as `docker save` archives, one per image
//! (and per platform), each with a `sha256sum` file beside it.

use std::path::{Path, PathBuf};

use dockyard_engine::Engine;

use crate::index;
use crate::manifest::{Archive, ReleasedImage};
use crate::{Publication, ReleaseError};

/// Without a registry: tags locally and writes one `docker save` archive per image with a sha256 beside it.
pub(crate) async fn archive_all(
    publication: &Publication<'_>,
    images: &mut [ReleasedImage],
) -> Result<(), ReleaseError> {
    let engine = publication.engine;
    let version = publication.preflight.version.as_str();
    let folder = publication.paths.release_archives.clone();
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|source| ReleaseError::Io {
            operation: "creating",
            path: folder.clone(),
            source,
        })?;
    publication.progress.warning("no registry configured ([release] registry or DOCKYARD_REGISTRY): writing image archives instead of pushing");
    for image in images.iter_mut() {
        for tag in image.tags.iter().chain(&image.moving_tags) {
            engine
                .tag_image(&image.image_id, &format!("{}:{tag}", image.repository))
                .await?;
        }
        let first_tag = image
            .tags
            .first()
            .map_or(version, String::as_str)
            .to_owned();
        let reference = format!("{}:{first_tag}", image.repository);
        let stem = format!("{}-{}-{version}", publication.project, image.name);
        let label = image.name.to_string();
        image.archive =
            Some(write_archive(publication, engine, &reference, &folder, &stem, &label).await?);
        // Several platforms: one archive per platform (an archive holds one platform's image).
        for platform in image.platforms.iter_mut() {
            if platform.image_id == image.image_id {
                platform.archive = image.archive.clone();
                continue;
            }
            let suffix = index::platform_tag("", &platform.platform);
            let reference = format!("{reference}{suffix}");
            let engine = publication
                .platform_engines
                .get(&platform.platform)
                .unwrap_or(engine);
            engine.tag_image(&platform.image_id, &reference).await?;
            let label = format!("{label} {}", platform.platform);
            let stem = format!("{stem}{suffix}");
            let archive =
                write_archive(publication, engine, &reference, &folder, &stem, &label).await?;
            platform.reference = Some(reference);
            platform.archive = Some(archive);
        }
    }
    Ok(())
}

/// Writes the image `reference` as `FOLDER/STEM.tar` with its `.sha256` beside it.
async fn write_archive(
    publication: &Publication<'_>,
    engine: &Engine,
    reference: &str,
    folder: &Path,
    stem: &str,
    label: &str,
) -> Result<Archive, ReleaseError> {
    let path = folder.join(format!("{stem}.tar"));
    let size = engine.export_image_to_file(reference, &path).await?;
    let sha256 = hash_file(&path).await?;
    write_sidecar(&path, &sha256).await?;
    publication.progress.detail(&format!(
        "{label}: {} ({} MiB, sha256 {})",
        path.display(),
        size / (1024 * 1024),
        &sha256[..12]
    ));
    Ok(Archive { path, sha256, size })
}

/// The sha256 of an archive, hashed off the async threads (archives are hundreds of MiB).
pub(crate) async fn hash_file(path: &Path) -> Result<String, ReleaseError> {
    let owned = path.to_owned();
    let hashed = tokio::task::spawn_blocking(move || dockyard_context::sha256_file(&owned))
        .await
        .map_err(|error| ReleaseError::Io {
            operation: "hashing",
            path: path.to_owned(),
            source: std::io::Error::other(error),
        })??;
    Ok(hashed)
}

/// `ARCHIVE.sha256` beside the archive, in `sha256sum`'s format.
async fn write_sidecar(archive: &Path, sha256: &str) -> Result<(), ReleaseError> {
    let sidecar = PathBuf::from(format!("{}.sha256", archive.display()));
    let file_name = archive
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    tokio::fs::write(&sidecar, format!("{sha256}  {file_name}\n"))
        .await
        .map_err(|source| ReleaseError::Io {
            operation: "writing",
            path: sidecar,
            source,
        })
}
