//! The plan of the images of each other platform of `[platforms] targets`: the production and nginx images' inputs on
//! that architecture's bases, compared with what `state.json` recorded for them.

use std::collections::BTreeMap;

use super::{compare_step, Action, PlannedStep, Prepared};
use crate::digest::Inputs;
use crate::state::{ExportRecord, PlatformRecord, State};
use crate::step::Step;

/// What a platform's step is made from: its production image's inputs and its nginx image's.
pub(crate) fn platform_inputs(production: &Inputs, nginx: Option<&Inputs>) -> Inputs {
    let inputs = Inputs::default().with("production image", production.digest());
    match nginx {
        Some(nginx) => inputs.with("nginx image", nginx.digest()),
        None => inputs,
    }
}

/// What a record says the step was made from.
fn recorded_inputs(record: &PlatformRecord) -> Inputs {
    platform_inputs(
        &record.production.inputs,
        record.nginx.as_ref().map(|nginx| &nginx.inputs),
    )
}

/// One step per other platform; its inputs are known when the export is cached (`export`) and its bases resolved.
pub(super) fn plan_platforms(
    prepared: &Prepared,
    state: &State,
    base_ids: &BTreeMap<&str, Option<String>>,
    export: Option<&ExportRecord>,
) -> Vec<PlannedStep> {
    let base_id = |name: &str| base_ids.get(name).cloned().flatten();
    prepared
        .config
        .platforms
        .iter()
        .map(|platform| {
            let step = Step::PlatformImages(platform.architecture.clone());
            let Some(export) = export else {
                return PlannedStep {
                    step,
                    action: Action::Run,
                    reason: "built from the context the export makes".to_owned(),
                    inputs: None,
                };
            };
            let runtime_id = base_id(&platform.runtime_base);
            let production = prepared.production_inputs(
                runtime_id.as_deref(),
                export,
                &prepared.production_labels(export),
            );
            let nginx_id = platform.nginx_base.as_deref().and_then(base_id);
            let nginx = platform.nginx_base.as_ref().and_then(|_| {
                prepared.nginx_inputs(nginx_id.as_deref(), export, &prepared.nginx_labels(export))
            });
            let known =
                runtime_id.is_some() && (platform.nginx_base.is_none() || nginx_id.is_some());
            let recorded = state
                .platforms
                .get(&platform.architecture)
                .map(recorded_inputs);
            compare_step(
                step,
                &platform_inputs(&production, nginx.as_ref()),
                recorded.as_ref(),
                known,
                "its bases are resolved first",
            )
        })
        .collect()
}
