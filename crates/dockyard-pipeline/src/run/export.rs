//! The export step: the builder container receives the planned source through the API, builds wheels, runs the tests
//! and `collectstatic`, and what it leaves in its out folder is downloaded, unpacked safely and re-packed
//! deterministically as the production image's build context.

use std::time::Instant;

use dockyard_context::PackOptions;
use dockyard_engine::LogLine;

use super::builder_container::{forget_other_dependencies, start_builder, BuilderOutput, Purpose};
use super::{blocking, created_work_dir, Session};
use crate::builder_protocol;
use crate::decide::{decide, Action, Evidence};
use crate::plan::Prepared;
use crate::progress;
use crate::state::ExportRecord;
use crate::PipelineError;

/// Runs the builder container and exports what it made as the deterministic context tarball, unless the
/// tarball on disk already comes from the same inputs.
pub async fn export(session: &mut Session) -> Result<ExportRecord, PipelineError> {
    let step = "export";
    let started = Instant::now();
    let builder = session.builder_image()?;
    let assets = session.assets_output()?;
    let inputs = session.prepared.export_inputs(
        &builder.inputs.digest(),
        assets.as_ref().map(|record| record.sha256.as_str()),
    );
    let context_path = session.prepared.paths.context_tarball.clone();
    // The evidence is the tarball on disk, trusted only when its bytes still hash to what the record says.
    let record = session.state.export.clone();
    let on_disk = match &record {
        Some(record) => {
            let (path, expected) = (context_path.clone(), record.sha256.clone());
            blocking("hashing", context_path.clone(), move || {
                Ok(dockyard_context::sha256_file(&path).ok() == Some(expected))
            })
            .await?
        }
        None => false,
    };
    let recorded_digest = record.as_ref().map(|record| record.inputs.digest());
    let evidence = match (&record, &recorded_digest) {
        (Some(record), Some(digest)) if on_disk => Evidence::Earlier {
            digest,
            inputs: Some(&record.inputs),
        },
        _ => Evidence::Nothing,
    };
    let decision = decide(&inputs, evidence, session.force);
    if decision.action == Action::Cached {
        if let Some(record) = record {
            progress::done(
                step,
                started,
                &format!(
                    "skipped: {} has the same inputs (sha256 {})",
                    context_path.display(),
                    &record.sha256[..12]
                ),
            );
            return Ok(record);
        }
    }
    progress::step(
        step,
        &format!("running the builder container ({})", decision.reason),
    );

    let prepared = &session.prepared;
    let config = &prepared.config;
    let folder = created_work_dir(session)?;
    let pack_options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    let planned = prepared.clone();
    let source = blocking(
        "packing",
        prepared.paths.source_tarball.clone(),
        move || write_planned_source(&planned),
    )
    .await?;
    progress::detail(&format!(
        "source: {} files, {} bytes, sha256 {} (as planned)",
        source.n_files,
        source.n_bytes,
        &source.sha256[..12]
    ));

    let mut builder_container =
        start_builder(session, &builder, assets.as_ref(), Purpose::Export).await?;
    let (engine, container) = (
        builder_container.engine.clone(),
        builder_container.container.clone(),
    );
    let dependencies_volume = builder_container.dependencies_volume.clone();
    // The production image's dependencies layer is made beside the tests once the builder has made a new
    // dependencies volume: it announces the wheels step only then, and the install step once every wheel is there.
    let (past_dependencies, dependencies_made) = tokio::sync::oneshot::channel::<()>();
    let (stop_beside, builder_failed) = tokio::sync::oneshot::channel::<()>();
    let mut output = BuilderOutput::default();
    let builder_run = async {
        let mut past_dependencies = Some(past_dependencies);
        let mut made_anew = false;
        let followed = engine
            .follow_logs(&container, &mut |line: LogLine| {
                let text = line.text();
                match output.take(text) {
                    Some(step) => {
                        made_anew |= step == builder_protocol::WHEELS_STEP;
                        if made_anew && step == builder_protocol::INSTALL_STEP {
                            if let Some(signal) = past_dependencies.take() {
                                let _ = signal.send(());
                            }
                        }
                        progress::detail(&format!("builder step: {step}"));
                    }
                    None => progress::output("builder", text),
                }
            })
            .await;
        drop(past_dependencies);
        followed?;
        builder_container.finish(&mut output).await?;
        let downloaded = download_context(
            &engine,
            &container,
            &folder,
            &context_path,
            pack_options.mtime,
        )
        .await?;
        forget_other_dependencies(
            &engine,
            &config.project.name,
            Purpose::Export,
            &dependencies_volume,
        )
        .await;
        Ok(downloaded)
    };
    let builder_run = async {
        let result: Result<Downloaded, PipelineError> = builder_run.await;
        if result.is_err() {
            // A failed builder stops the layer beside it (its container is the run's, removed at the end).
            let _ = stop_beside.send(());
        }
        result
    };
    let beside = async {
        if dependencies_made.await.is_err() {
            return;
        }
        tokio::select! {
            made = super::assemble::dependencies_layer_beside(session, &dependencies_volume) => {
                if let Err(error) = made {
                    progress::warning(&format!(
                        "the dependencies layer beside the tests: {error}; the production image step makes it again"
                    ));
                }
            }
            Ok(()) = builder_failed => {}
        }
    };
    let (downloaded, ()) = tokio::join!(builder_run, beside);
    let (n_bytes, summary, static_manifest_sha256, static_sha256) = downloaded?;
    progress::done(
        step,
        started,
        &format!(
            "{}: {} files, {} MiB downloaded, sha256 {}",
            context_path.display(),
            summary.n_files,
            n_bytes / (1024 * 1024),
            summary.sha256
        ),
    );
    let record = ExportRecord {
        path: context_path,
        sha256: summary.sha256,
        static_manifest_sha256,
        static_sha256,
        inputs,
    };
    session.state.export = Some(record.clone());
    session.save_state()?;
    Ok(record)
}

/// What the export downloaded: its size, the context tarball's summary, the static manifest's and files' digests.
type Downloaded = (u64, dockyard_context::PackSummary, Option<String>, String);

/// Downloads the builder's out folder, unpacks it safely into `folder` and re-packs it deterministically as the
/// context tarball at `context_path`; a refused export (a hostile or broken builder) leaves nothing half-extracted.
async fn download_context(
    engine: &dockyard_engine::Engine,
    container: &str,
    folder: &std::path::Path,
    context_path: &std::path::Path,
    mtime: u64,
) -> Result<Downloaded, PipelineError> {
    progress::detail(&format!(
        "downloading {} from the builder container",
        builder_protocol::OUT_DIR
    ));
    let download = folder.join("out.tar");
    let n_bytes = engine
        .download_to_file(
            container,
            &format!("{}/.", builder_protocol::OUT_DIR),
            &download,
        )
        .await?;
    engine.remove_container(container).await?;
    let unpacked = folder.join("out");
    std::fs::create_dir_all(&unpacked).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: unpacked.clone(),
        source,
    })?;
    let (download_path, unpacked_path, context) = (
        download.clone(),
        unpacked.clone(),
        context_path.to_path_buf(),
    );
    let unpack_and_repack = blocking("packing", context_path.to_path_buf(), move || {
        let file = std::fs::File::open(&download_path).map_err(|source| PipelineError::Io {
            operation: "opening",
            path: download_path.clone(),
            source,
        })?;
        dockyard_context::unpack_archive_safely(std::io::BufReader::new(file), &unpacked_path)?;
        let options = PackOptions { mtime };
        Ok(dockyard_context::write_tarball_file(&context, |out| {
            dockyard_context::pack_tree(&unpacked_path, &options, out)
        })?)
    })
    .await;
    let summary = match unpack_and_repack {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&unpacked);
            let _ = std::fs::remove_file(&download);
            return Err(error);
        }
    };
    let manifest = unpacked.join("staticfiles").join("staticfiles.json");
    let static_manifest_sha256 = manifest
        .is_file()
        .then(|| dockyard_context::sha256_file(&manifest))
        .transpose()?;
    let static_sha256 = dockyard_context::tree_sha256(&unpacked.join("staticfiles"))?;
    // Only what the export wrote: the layer beside the tests works in the same run folder.
    let _ = std::fs::remove_dir_all(&unpacked);
    let _ = std::fs::remove_file(&download);
    Ok((n_bytes, summary, static_manifest_sha256, static_sha256))
}

/// Writes the app source tarball the builder receives, and checks it is the source the plan hashed: a file edited
/// between the plan and the upload would otherwise be built under inputs that do not describe it.
pub fn write_planned_source(
    prepared: &Prepared,
) -> Result<dockyard_context::PackSummary, PipelineError> {
    let config = &prepared.config;
    let options = PackOptions {
        mtime: prepared.provenance.source_date_epoch,
    };
    std::fs::create_dir_all(&prepared.paths.target).map_err(|source| PipelineError::Io {
        operation: "creating",
        path: prepared.paths.target.clone(),
        source,
    })?;
    let source = dockyard_context::write_tarball_file(&prepared.paths.source_tarball, |out| {
        dockyard_context::pack_source_tree(
            &config.app.path,
            &crate::plan::source_rules(config),
            &options,
            out,
        )
    })?;
    if source.sha256 != prepared.source.sha256 {
        let _ = std::fs::remove_file(&prepared.paths.source_tarball);
        return Err(PipelineError::SourceChanged {
            path: config.app.path.clone(),
            planned: prepared.source.sha256.clone(),
            found: source.sha256,
        });
    }
    Ok(source)
}
