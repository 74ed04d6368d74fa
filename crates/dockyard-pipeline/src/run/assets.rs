//! The assets step (`[assets] runs_in = "node"`): a container of the Node base receives the asset folder through the
//! API, installs from the lock file with `node_modules` cached in a labelled volume keyed on the lock's digest, runs
//! the build under a timeout, and its output folders are downloaded and re-packed deterministically for the builder.
//! Node, npm, `node_modules` and the asset sources stay in that container; only the output folders leave it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dockyard_config::container_paths::OutputPlace;
use dockyard_context::{Member, PackOptions};
use dockyard_engine::{ContainerSpec, LogLine, VolumeMount, PROJECT_LABEL};

use super::{blocking, created_work_dir, Session, CACHE_LABEL, CA_BUNDLE_ENV};
use crate::assets::{self, NODE_CACHE_DIR, NODE_WORK_DIR};
use crate::builder_protocol::{self, STEP_MARKER};
use crate::decide::{decide, Action, Evidence};
use crate::plan::short;
use crate::progress;
use crate::state::AssetsRecord;
use crate::PipelineError;

/// The script's name inside the asset folder of the Node container.
const SCRIPT_NAME: &str = ".dockyard-assets.sh";
/// Lines of output kept for an error.
const TAIL_LINES: usize = 40;

/// Runs the `[assets]` build in a Node container unless the output on disk comes from the same inputs.
pub async fn build_assets(session: &mut Session) -> Result<AssetsRecord, PipelineError> {
    let step = "assets";
    let started = Instant::now();
    let (Some(config_assets), Some(prepared_assets)) = (
        session.prepared.config.assets.clone(),
        session.prepared.assets.clone(),
    ) else {
        return Err(PipelineError::Internal(
            "the assets step without an [assets] table".to_owned(),
        ));
    };
    let base_name = config_assets.base.clone().unwrap_or_default();
    let base_id = session.base_id(&base_name);
    let inputs = session
        .prepared
        .assets_inputs(base_id.as_deref())
        .ok_or_else(|| PipelineError::Internal("the assets step without a Node base".to_owned()))?;
    let output_path = session.prepared.paths.assets_tarball.clone();

    // The evidence is the tarball on disk, trusted only when its bytes still hash to what the record says.
    let record = session.state.assets.clone();
    let on_disk = match &record {
        Some(record) => {
            let (path, expected) = (record.path.clone(), record.sha256.clone());
            blocking("hashing", output_path.clone(), move || {
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
    if let (Action::Cached, Some(record)) = (decision.action, &record) {
        progress::done(
            step,
            started,
            &format!(
                "skipped: {} has the same inputs ({})",
                record.path.display(),
                short(&inputs.digest())
            ),
        );
        return Ok(record.clone());
    }

    let config = &session.prepared.config;
    let Some(lock_sha256) = prepared_assets.lock_sha256.clone() else {
        return Err(PipelineError::AssetsLockMissing {
            path: config.root.join(config_assets.lock_file()),
            install: config_assets.install_command.join(" "),
        });
    };
    progress::step(
        step,
        &format!(
            "{} in a Node container ({})",
            config_assets.build_command.join(" "),
            decision.reason
        ),
    );
    let folder = created_work_dir(session)?;
    let pack_options = PackOptions {
        mtime: session.prepared.provenance.source_date_epoch,
    };

    // The asset folder and each of `sources`, packed as the plan hashed them, for their places under the work folder.
    let planned = std::iter::once((&config_assets.path, &prepared_assets.sources_sha256)).chain(
        config_assets
            .sources
            .iter()
            .zip(&prepared_assets.extra_sources_sha256),
    );
    let mut uploads = Vec::new();
    for (index, (source, planned_sha256)) in planned.enumerate() {
        let tar_path = folder.join(format!("asset-sources-{index}.tar.gz"));
        let (root, rules, tar, options) = (
            config.root.join(source),
            assets::sources_rules(config, &config_assets, source),
            tar_path.clone(),
            pack_options,
        );
        let packed = blocking("packing", tar_path.clone(), move || {
            Ok(dockyard_context::write_tarball_file(&tar, |out| {
                dockyard_context::pack_source_tree(&root, &rules, &options, out)
            })?)
        })
        .await?;
        if &packed.sha256 != planned_sha256 {
            return Err(PipelineError::SourceChanged {
                path: config.root.join(source),
                planned: planned_sha256.clone(),
                found: packed.sha256,
            });
        }
        uploads.push((assets::node_work_folder(source), tar_path));
    }

    let volume = assets::cache_volume(&config.project.name, &lock_sha256);
    let mut cache_labels =
        BTreeMap::from([(PROJECT_LABEL.to_owned(), config.project.name.clone())]);
    cache_labels.insert(CACHE_LABEL.to_owned(), "node_modules".to_owned());
    session.engine.ensure_volume(&volume, &cache_labels).await?;

    let ca_bundle = std::env::var_os(CA_BUNDLE_ENV)
        .map(PathBuf::from)
        .or_else(|| config.builder.ca_bundle.clone());
    let work_folder = assets::node_work_folder(&config_assets.path);
    let mut env = Vec::new();
    if ca_bundle.is_some() {
        env.extend(node_ca_environment());
    }
    let script_path = format!("{work_folder}/{SCRIPT_NAME}");
    let spec = ContainerSpec {
        name: Some(format!("{}-assets-{}", config.project.name, session.run_id)),
        image: base_id
            .clone()
            .unwrap_or_else(|| config.base(&base_name).image.to_string()),
        cmd: vec!["sh".to_owned(), script_path],
        env,
        labels: session.run_labels(),
        volumes: vec![VolumeMount {
            volume: volume.clone(),
            target: NODE_CACHE_DIR.to_owned(),
        }],
        ..ContainerSpec::default()
    };
    let engine = session.engine.clone();
    let container = engine.create_container(&spec).await?;

    // The script first: its member path creates the asset folder, which the sources are then unpacked into.
    let script = assets::script(
        &config_assets,
        &work_folder,
        STEP_MARKER,
        Some(NODE_CACHE_DIR),
    );
    let mut tar = Vec::new();
    let script_member = Member {
        path: format!("{}/{SCRIPT_NAME}", work_folder.trim_start_matches('/')),
        bytes: script.into_bytes(),
        executable: true,
    };
    dockyard_context::pack_members(&[script_member], &pack_options, &mut tar)?;
    engine.upload_tar_bytes(&container, "/", tar).await?;
    for (place, tar) in &uploads {
        // The folder first, so the sources of `sources` have somewhere to go.
        let member = Member {
            path: format!("{}/.dockyard-keep", place.trim_start_matches('/')),
            bytes: Vec::new(),
            executable: false,
        };
        let mut made = Vec::new();
        dockyard_context::pack_members(&[member], &pack_options, &mut made)?;
        engine.upload_tar_bytes(&container, "/", made).await?;
        engine.upload_tar_file(&container, place, tar).await?;
    }
    if let Some(ca_bundle) = &ca_bundle {
        let member = super::builder_container::ca_member(ca_bundle)?;
        let mut tar = Vec::new();
        dockyard_context::pack_members(&[member], &pack_options, &mut tar)?;
        engine.upload_tar_bytes(&container, "/", tar).await?;
        progress::detail(&format!(
            "CA bundle {} uploaded into the Node container only",
            ca_bundle.display()
        ));
    }

    engine.start_container(&container).await?;
    let mut phase = String::from("start");
    let mut tail: Vec<String> = Vec::new();
    let timeout = Duration::from_secs(config_assets.timeout_seconds);
    let finished = tokio::time::timeout(timeout, async {
        engine
            .follow_logs(&container, &mut |line: LogLine| {
                let text = line.text();
                if let Some(announced) = builder_protocol::announced_step(text) {
                    phase = announced.to_owned();
                    progress::detail(&format!("assets step: {announced}"));
                } else {
                    progress::output("assets", text);
                }
                tail.push(text.to_owned());
                if tail.len() > TAIL_LINES {
                    tail.remove(0);
                }
            })
            .await?;
        engine.wait_container(&container).await
    })
    .await;
    let exit_code = match finished {
        Ok(exit_code) => exit_code?,
        Err(_elapsed) => {
            // A build that never exits (a watch mode): stopped here, removed with the run's other containers.
            let _ = engine.stop_container(&container, 1).await;
            return Err(PipelineError::AssetsTimedOut {
                phase,
                seconds: config_assets.timeout_seconds,
                tail,
            });
        }
    };
    if exit_code != 0 {
        return Err(PipelineError::AssetsFailed {
            phase,
            exit_code,
            tail,
        });
    }

    // Each output folder, downloaded and unpacked safely at its place in the app folder.
    let staging = folder.join("assets");
    for output in &config_assets.outputs {
        let download = folder.join("assets-output.tar");
        let source = Path::new(NODE_WORK_DIR).join(&output.path);
        engine
            .download_to_file(&container, &format!("{}/.", source.display()), &download)
            .await
            .map_err(|_| PipelineError::MissingArtifact {
                what: "an output folder of the assets build (the build did not write it)",
                path: output.path.clone(),
            })?;
        let target = match &output.place {
            OutputPlace::InApp(in_app) => staging
                .join(builder_protocol::SOURCE_DIR.trim_start_matches('/'))
                .join(in_app),
            OutputPlace::Outside(container) => {
                staging.join(container.strip_prefix("/").unwrap_or(container))
            }
        };
        let download_path = download.clone();
        blocking("unpacking", download.clone(), move || {
            std::fs::create_dir_all(&target).map_err(|source| PipelineError::Io {
                operation: "creating",
                path: target.clone(),
                source,
            })?;
            let file = std::fs::File::open(&download_path).map_err(|source| PipelineError::Io {
                operation: "opening",
                path: download_path.clone(),
                source,
            })?;
            dockyard_context::unpack_archive_safely(std::io::BufReader::new(file), &target)?;
            Ok(())
        })
        .await
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&folder);
        })?;
    }
    engine.remove_container(&container).await?;
    let (staging_path, output_file) = (staging.clone(), output_path.clone());
    let summary = blocking("packing", output_path.clone(), move || {
        Ok(dockyard_context::write_tarball_file(&output_file, |out| {
            dockyard_context::pack_tree(&staging_path, &pack_options, out)
        })?)
    })
    .await?;
    let _ = std::fs::remove_dir_all(&folder);
    progress::done(
        step,
        started,
        &format!(
            "{}: {} files, sha256 {}",
            output_path.display(),
            summary.n_files,
            &summary.sha256[..12]
        ),
    );
    let record = AssetsRecord {
        path: output_path,
        sha256: summary.sha256,
        inputs,
    };
    session.state.assets = Some(record.clone());
    crate::state::save(&session.prepared.paths.state, &session.state)?;
    Ok(record)
}

/// The environment pointing Node, npm and yarn at the uploaded CA bundle.
fn node_ca_environment() -> Vec<String> {
    let ca = builder_protocol::ca_path();
    vec![
        format!("NODE_EXTRA_CA_CERTS={ca}"),
        format!("npm_config_cafile={ca}"),
        format!("YARN_CAFILE={ca}"),
    ]
}
