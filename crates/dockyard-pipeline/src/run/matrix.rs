//! The tests on another Python of `[matrix] python`: that Python's builder image (the builder's Dockerfile on its
//! base), then a builder container that installs the same locked set into its own dependencies volume and runs the
//! app's tests, exporting nothing; skipped when the same inputs passed before.

use std::time::Instant;

use dockyard_config::PythonVersion;
use dockyard_engine::LogLine;

use super::builder_container::{forget_other_dependencies, start_builder, BuilderOutput, Purpose};
use super::{blocking, make_builder_image, BuilderToMake, Session};
use crate::decide::{decide, Action, Evidence};
use crate::progress;
use crate::state::MatrixRecord;
use crate::step::Step;
use crate::PipelineError;

/// Runs the app's tests on `python`, another Python of `[matrix] python`, unless they passed with the same inputs.
/// A failure names the Python.
pub async fn matrix_tests(
    session: &mut Session,
    python: PythonVersion,
) -> Result<(), PipelineError> {
    run(session, python).await.map_err(|error| match error {
        PipelineError::Interrupted => PipelineError::Interrupted,
        error => PipelineError::OnMatrixPython {
            python: python.to_string(),
            error: Box::new(error),
        },
    })
}

async fn run(session: &mut Session, python: PythonVersion) -> Result<(), PipelineError> {
    let step = Step::MatrixTests(python).name();
    let started = Instant::now();
    let prepared = &session.prepared;
    let entry = prepared.matrix_entry(python)?.clone();
    let base_id = session.base_id(&entry.builder_base);
    let builder_inputs = prepared.matrix_builder_inputs(&entry, base_id.as_deref());
    let assets = session.assets_output()?;
    let inputs = prepared.matrix_tests_inputs(
        &builder_inputs.digest(),
        assets.as_ref().map(|record| record.sha256.as_str()),
    );
    let record = session.state.matrix.get(python.as_str()).cloned();
    let recorded_digest = record.as_ref().map(|record| record.inputs.digest());
    let evidence = match (&record, &recorded_digest) {
        (Some(record), Some(digest)) => Evidence::Earlier {
            digest,
            inputs: Some(&record.inputs),
        },
        _ => Evidence::Nothing,
    };
    let decision = decide(&inputs, evidence, session.force);
    if decision.action == Action::Cached {
        progress::done(
            &step,
            started,
            &format!("skipped: the tests passed on Python {python} with the same inputs"),
        );
        return Ok(());
    }
    progress::step(
        &step,
        &format!(
            "the app's tests on Python {python}, {} ({})",
            entry.builder_base, decision.reason
        ),
    );
    let builder = make_builder_image(
        session,
        BuilderToMake {
            step: step.clone(),
            tag: entry.builder_tag.clone(),
            members: entry.builder_context.members.clone(),
            context_path: prepared
                .paths
                .matrix_builder_context_tarball(&python.short_name()),
            inputs: builder_inputs,
        },
    )
    .await?;
    // The planned source, as the export uploads it (written again: the export may have been skipped).
    let planned = prepared.clone();
    blocking(
        "packing",
        prepared.paths.source_tarball.clone(),
        move || super::write_planned_source(&planned),
    )
    .await?;
    let purpose = Purpose::MatrixTests(python);
    let mut builder_container = start_builder(session, &builder, assets.as_ref(), purpose).await?;
    let mut output = BuilderOutput::default();
    builder_container
        .engine
        .follow_logs(&builder_container.container, &mut |line: LogLine| {
            let text = line.text();
            match output.take(text) {
                Some(announced) => progress::detail(&format!("builder step: {announced}")),
                None => progress::output(&format!("builder {}", python.short_name()), text),
            }
        })
        .await?;
    builder_container.finish(&mut output).await?;
    forget_other_dependencies(
        &builder_container.engine,
        &prepared.config.project.name,
        purpose,
        &builder_container.dependencies_volume,
    )
    .await;
    progress::done(
        &step,
        started,
        &format!(
            "the tests passed on Python {python} ({} {})",
            builder.tag,
            crate::plan::short(&builder.id)
        ),
    );
    session
        .state
        .matrix
        .insert(python.to_string(), MatrixRecord { builder, inputs });
    session.save_state()
}
