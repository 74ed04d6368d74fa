//! The base step: a base image of `[base.NAME]` used if present, pulled if a registry has it, else bootstrapped with
//! mmdebstrap and imported through the API, its id recorded.

use std::time::Instant;

use dockyard_engine::Engine;

use super::{created_work_dir, Session};
use crate::plan::short;
use crate::progress;
use crate::state::BaseRecord;
use crate::step::Step;
use crate::PipelineError;

/// Makes sure the base image `[base.NAME]` is in its engine (a platform's own for that platform's bases, else this
/// machine's): present, pulled, copied from this machine's engine, or bootstrapped.
pub async fn ensure_base(session: &mut Session, name: &str) -> Result<(), PipelineError> {
    let platform = session
        .prepared
        .config
        .platform_with_engine_of_base(name)
        .map(|platform| platform.architecture.clone());
    match platform {
        Some(architecture) => {
            let native = session.engine.clone();
            session
                .on_engine_of(&architecture, async |session| {
                    make_base(session, name, Some((&native, &architecture))).await
                })
                .await
        }
        None => make_base(session, name, None).await,
    }
}

/// The base step on `session.engine`; `native` is this machine's engine and the platform's architecture when that is
/// another engine, which may hold the base already (bootstrapped for that architecture there, under emulation).
async fn make_base(
    session: &mut Session,
    name: &str,
    native: Option<(&Engine, &str)>,
) -> Result<(), PipelineError> {
    let config = session.prepared.config.clone();
    let base = config.base(name);
    let step = Step::Base(name.to_owned()).name();
    let started = Instant::now();
    let reference = base.image.to_string();
    let recipe = base.bootstrap.as_ref().map(|recipe| {
        dockyard_base::recipe_digest(
            recipe,
            session.prepared.provenance.explicit_source_date_epoch,
        )
    });
    let present = session.engine.image(&reference).await?;
    let stale = |image: &dockyard_engine::ImageInfo| {
        recipe.is_some()
            && image
                .labels
                .get(dockyard_base::RECIPE_LABEL)
                .is_some_and(|label| Some(label) != recipe.as_ref())
    };
    let record = match present {
        Some(image) if !stale(&image) => {
            progress::done(
                &step,
                started,
                &format!("{reference} present, {}", short(&image.id)),
            );
            let origin = session
                .state
                .bases
                .get(name)
                .filter(|record| record.id == image.id)
                .map_or("present".to_owned(), |record| record.origin.clone());
            BaseRecord {
                image: reference.clone(),
                id: image.id,
                recipe: recipe.clone(),
                origin,
            }
        }
        present => {
            if present.is_some() {
                progress::step(
                    &step,
                    &format!(
                        "{reference} was bootstrapped from another recipe: bootstrapping again"
                    ),
                );
            }
            if let Some((native, architecture)) = native {
                if let Some(id) =
                    copy_from(session, native, &reference, architecture, &recipe).await?
                {
                    progress::done(
                        &step,
                        started,
                        &format!(
                            "{reference} copied from this machine's engine ({}), {}",
                            native.host(),
                            short(&id)
                        ),
                    );
                    session.state.bases.insert(
                        name.to_owned(),
                        BaseRecord {
                            image: reference.clone(),
                            id,
                            recipe: recipe.clone(),
                            origin: "copied".to_owned(),
                        },
                    );
                    return session.save_state();
                }
            }
            let pulled = if base.pull && present.is_none() {
                progress::step(&step, &format!("{reference} not present: pulling"));
                match session
                    .engine
                    .pull_image(&reference, &mut |line| progress::output("pull", line))
                    .await
                {
                    Ok(()) => None,
                    Err(error) if error.is_unreachable() => return Err(error.into()),
                    Err(error) => Some(error.to_string()),
                }
            } else {
                Some("pulling is off (pull = false)".to_owned())
            };
            match (pulled, &base.bootstrap) {
                (None, _) => {
                    let image = session.engine.image(&reference).await?.ok_or_else(|| {
                        PipelineError::BaseUnavailable {
                            name: name.to_owned(),
                            image: reference.clone(),
                            pull_error: "the pull reported success but the image is missing"
                                .to_owned(),
                        }
                    })?;
                    progress::done(
                        &step,
                        started,
                        &format!("pulled {reference}, {}", short(&image.id)),
                    );
                    BaseRecord {
                        image: reference.clone(),
                        id: image.id,
                        recipe: None,
                        origin: "pulled".to_owned(),
                    }
                }
                (Some(pull_error), None) => {
                    return Err(PipelineError::BaseUnavailable {
                        name: name.to_owned(),
                        image: reference,
                        pull_error,
                    });
                }
                (Some(pull_error), Some(bootstrap)) => {
                    progress::detail(&format!("pull failed: {pull_error}"));
                    let recipe = recipe.clone().unwrap_or_default();
                    let id = bootstrap_base(session, &step, &reference, bootstrap, &recipe).await?;
                    progress::done(
                        &step,
                        started,
                        &format!("bootstrapped {reference}, {}", short(&id)),
                    );
                    BaseRecord {
                        image: reference.clone(),
                        id,
                        recipe: Some(recipe),
                        origin: "bootstrapped".to_owned(),
                    }
                }
            }
        }
    };
    session.state.bases.insert(name.to_owned(), record);
    session.save_state()?;
    Ok(())
}

/// Copies the image `reference` from this machine's engine (`native`) into the session's (a platform's own) when
/// it holds it for `architecture` with the same recipe; `None` when it does not.
async fn copy_from(
    session: &Session,
    native: &Engine,
    reference: &str,
    architecture: &str,
    recipe: &Option<String>,
) -> Result<Option<String>, PipelineError> {
    let Some(image) = native.image(reference).await? else {
        return Ok(None);
    };
    // A base without a recipe is an image reference: whatever this machine's engine holds under it will do.
    let same_recipe =
        recipe.is_none() || image.labels.get(dockyard_base::RECIPE_LABEL) == recipe.as_ref();
    if image.architecture != dockyard_image::oci_architecture(architecture) || !same_recipe {
        return Ok(None);
    }
    let archive = created_work_dir(session)?.join(format!("copied-{}.tar", short(&image.id)));
    native.export_image_to_file(reference, &archive).await?;
    let loaded = session.engine.load_image_archive(&archive, reference).await;
    let _ = std::fs::remove_file(&archive);
    Ok(Some(loaded?))
}

async fn bootstrap_base(
    session: &Session,
    step: &str,
    reference: &str,
    bootstrap: &dockyard_config::Bootstrap,
    recipe_digest: &str,
) -> Result<String, PipelineError> {
    let folder = created_work_dir(session)?;
    let rootfs = folder.join(format!(
        "base-{}.tar",
        recipe_digest
            .trim_start_matches("sha256:")
            .get(..12)
            .unwrap_or("rootfs")
    ));
    if let Some(architecture) = &bootstrap.architecture {
        let how = dockyard_base::check_emulation(
            reference,
            architecture,
            std::path::Path::new(dockyard_base::BINFMT_DIR),
        )?;
        progress::detail(&format!("{architecture}: {how}"));
    }
    progress::step(
        step,
        &format!(
            "bootstrapping {reference} with mmdebstrap ({} {}{}, {})",
            bootstrap.suite,
            bootstrap.variant,
            bootstrap
                .architecture
                .as_ref()
                .map_or(String::new(), |architecture| format!(" {architecture}")),
            bootstrap.packages.join(" ")
        ),
    );
    let epoch = session.prepared.provenance.explicit_source_date_epoch;
    let (image, recipe, output) = (reference.to_owned(), bootstrap.clone(), rootfs.clone());
    tokio::task::spawn_blocking(move || {
        dockyard_base::bootstrap_rootfs(&image, &recipe, epoch, &output, &mut |line| {
            progress::output("mmdebstrap", line)
        })
    })
    .await
    .map_err(|error| PipelineError::Io {
        operation: "bootstrapping",
        path: rootfs.clone(),
        source: std::io::Error::other(error),
    })??;
    let size = std::fs::metadata(&rootfs).map_or(0, |metadata| metadata.len());
    progress::detail(&format!(
        "importing {} MiB root filesystem as {reference}",
        size / (1024 * 1024)
    ));
    let mut changes = vec![
        format!("LABEL {}={recipe_digest}", dockyard_base::RECIPE_LABEL),
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        "CMD [\"/bin/bash\"]".to_owned(),
    ];
    // The recipe's own configuration comes last, so its ENV PATH and CMD win.
    changes.extend(bootstrap.changes.iter().cloned());
    let id = session
        .engine
        .import_rootfs(&rootfs, reference, &changes)
        .await;
    let _ = std::fs::remove_file(&rootfs);
    let id = id?;
    match &bootstrap.architecture {
        Some(architecture) => record_architecture(session, reference, architecture, &folder).await,
        None => Ok(id),
    }
}

/// The engine's import records its own architecture whatever the root filesystem is: the image `reference` is
/// loaded again with `architecture` in its configuration (its layers stay where they are).
async fn record_architecture(
    session: &Session,
    reference: &str,
    architecture: &str,
    folder: &std::path::Path,
) -> Result<String, PipelineError> {
    let oci_architecture = dockyard_image::oci_architecture(architecture).to_owned();
    let image = session.engine.image(reference).await?;
    let imported = match image {
        Some(image) if image.architecture == oci_architecture => return Ok(image.id),
        Some(image) => Some(image.id),
        None => None,
    };
    let saved = folder.join("imported.tar");
    let retargeted = folder.join("retargeted.tar");
    session
        .engine
        .export_image_to_file(reference, &saved)
        .await?;
    let (from, to, tag) = (saved.clone(), retargeted.clone(), reference.to_owned());
    let variant = dockyard_image::oci_variant(architecture);
    let rewritten = tokio::task::spawn_blocking(move || {
        dockyard_image::retarget_saved_image(&from, &to, &tag, &oci_architecture, variant)
    })
    .await
    .map_err(|error| PipelineError::Io {
        operation: "rewriting the configuration of",
        path: saved.clone(),
        source: std::io::Error::other(error),
    })?;
    let _ = std::fs::remove_file(&saved);
    rewritten?;
    let id = session
        .engine
        .load_image_archive(&retargeted, reference)
        .await;
    let _ = std::fs::remove_file(&retargeted);
    let id = id?;
    // The import's image, untagged now, holds nothing the loaded one does not.
    if let Some(imported) = imported.filter(|imported| *imported != id) {
        let _ = session.engine.remove_image(&imported).await;
    }
    progress::detail(&format!("{reference} recorded as {architecture}"));
    Ok(id)
}
