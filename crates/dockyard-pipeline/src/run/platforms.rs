//! The images of another platform of `[platforms] targets`: the production and nginx images assembled again from the
//! same exported context on that architecture's bases, on the platform's own engine when `[platforms] engines` names
//! one, else on this machine's. The dependencies layer is made in a container of its runtime base (natively there,
//! else under emulation) from the wheels `platform_wheels` selects.

use crate::run::{assemble, blocking, build_unless_cached, ensure_base, missing_base, Session};
use crate::state::PlatformRecord;
use crate::step::Step;
use crate::PipelineError;

/// The tag of `tag`'s image for `architecture`: `app:latest` becomes `app:latest-arm64`.
pub fn platform_tag(tag: &str, architecture: &str) -> String {
    format!("{tag}-{architecture}")
}

/// Makes the production and nginx images for `architecture`, unless the engine holds them with the same inputs.
/// A failure names the platform.
pub async fn platform_images(
    session: &mut Session,
    architecture: &str,
) -> Result<PlatformRecord, PipelineError> {
    let result = async {
        builder_base_when_needed(session, architecture).await?;
        session
            .on_engine_of(architecture, async |session| {
                make(session, architecture).await
            })
            .await
    }
    .await;
    let record = result.map_err(|error| match error {
        PipelineError::Interrupted => PipelineError::Interrupted,
        error => PipelineError::OnPlatform {
            architecture: architecture.to_owned(),
            error: Box::new(error),
        },
    })?;
    session
        .state
        .platforms
        .insert(architecture.to_owned(), record.clone());
    session.save_state()?;
    Ok(record)
}

/// Makes sure the platform's builder base is there when the builder fetched sdists for its machine (packages the
/// index has no wheel of for it, built from them in that base); it is made only then.
async fn builder_base_when_needed(
    session: &mut Session,
    architecture: &str,
) -> Result<(), PipelineError> {
    let builder_base = session
        .prepared
        .config
        .platforms
        .iter()
        .find(|platform| platform.architecture == architecture)
        .and_then(|platform| platform.builder_base.clone());
    let Some(builder_base) = builder_base else {
        return Ok(());
    };
    let context = session.exported_context()?.path;
    let machine = dockyard_config::wheel_machine(architecture).to_owned();
    let needed = blocking("reading", context.clone(), move || {
        super::platform_sdists::context_has_sdists(&context, &machine)
    })
    .await?;
    if needed {
        ensure_base(session, &builder_base).await?;
    }
    Ok(())
}

async fn make(session: &Session, architecture: &str) -> Result<PlatformRecord, PipelineError> {
    let prepared = &session.prepared;
    let platform = prepared
        .config
        .platforms
        .iter()
        .find(|platform| platform.architecture == architecture)
        .ok_or_else(|| {
            PipelineError::Internal(format!("{architecture} is not in [platforms] targets"))
        })?;
    let step = Step::PlatformImages(architecture.to_owned()).name();
    let export = session.exported_context()?;

    let labels = prepared.production_labels(&export);
    let base_id = session.base_id(&platform.runtime_base);
    let inputs = prepared.production_inputs(base_id.as_deref(), &export, &labels);
    let tag = platform_tag(&prepared.production_tag, architecture);
    let make = async |labels| {
        let base_id = base_id
            .as_deref()
            .ok_or_else(|| missing_base(&platform.runtime_base))?;
        assemble::production(session, &tag, base_id, &export.path, labels).await
    };
    let production = build_unless_cached(session, &step, &tag, inputs, labels, make).await?;

    let nginx = match (&prepared.nginx, &platform.nginx_base) {
        (Some(nginx), Some(nginx_base)) => {
            let labels = prepared.nginx_labels(&export);
            let base_id = session.base_id(nginx_base);
            let inputs = prepared
                .nginx_inputs(base_id.as_deref(), &export, &labels)
                .unwrap_or_default();
            let tag = platform_tag(&nginx.tag, architecture);
            let make = async |labels| {
                let base_id = base_id.as_deref().ok_or_else(|| missing_base(nginx_base))?;
                assemble::nginx(session, &tag, base_id, nginx, &export.path, labels).await
            };
            Some(build_unless_cached(session, &step, &tag, inputs, labels, make).await?)
        }
        _ => None,
    };
    Ok(PlatformRecord {
        platform: platform.platform.clone(),
        production,
        nginx,
    })
}
