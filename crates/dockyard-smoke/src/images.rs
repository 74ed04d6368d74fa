//! The facts about each image the structure checks judge (inspect, history, and a probe container looking for
//! compilers), collected through the engine while the containers start.

use dockyard_engine::ContainerSpec;

use crate::structure::{self, ImageFacts, StructureExpectations};
use crate::{CheckResult, RunContext, SmokeError, SmokeImage};

/// Commands Dockyard probes for in images: none of them may exist in the app or nginx image.
pub const COMPILER_PROBE: &str = "for tool in gcc cc c++ g++ clang make; do command -v $tool >/dev/null 2>&1 && echo $tool; done; true";

/// How many lines of the probe's output are read (one per compiler found).
const PROBE_OUTPUT_LINES: usize = 20;

/// Inspects `image` and runs the compiler probe in a throwaway container of it.
async fn image_facts(run: &RunContext<'_>, image: &SmokeImage) -> Result<ImageFacts, SmokeError> {
    let engine = run.engine;
    let info = engine
        .image(&image.id)
        .await?
        .ok_or_else(|| SmokeError::ImageMissing {
            reference: image.reference.clone(),
        })?;
    let history = engine.image_history(&image.id).await?;
    let probe = ContainerSpec {
        image: image.id.clone(),
        cmd: vec!["sh".to_owned(), "-c".to_owned(), COMPILER_PROBE.to_owned()],
        labels: run.labels.clone(),
        ..ContainerSpec::default()
    };
    let container = engine.create_container(&probe).await?;
    engine.start_container(&container).await?;
    engine.wait_container(&container).await?;
    let compilers_found = engine
        .logs_tail(&container, PROBE_OUTPUT_LINES)
        .await?
        .into_iter()
        .filter(|line| !line.trim().is_empty())
        .collect();
    engine.remove_container(&container).await?;
    Ok(ImageFacts {
        reference: image.reference.clone(),
        user: info.user,
        exposed_ports: info.exposed_ports,
        healthcheck: info.healthcheck,
        env: info.env,
        labels: info.labels,
        history,
        size_bytes: info.size,
        compilers_found,
    })
}

/// The structure checks of the app image (and of the nginx image, with `[nginx]`), grouped `structure app` and
/// `structure nginx`.
pub(crate) async fn structure_checks(
    run: &RunContext<'_>,
    nginx_image: Option<&SmokeImage>,
) -> Result<Vec<CheckResult>, SmokeError> {
    let config = run.config;
    let mib = |budget: Option<u64>| budget.map(|megabytes| megabytes * 1024 * 1024);
    let nginx = nginx_image.zip(config.nginx.as_ref());
    let (facts, nginx_facts) = tokio::join!(image_facts(run, &run.app_image), async {
        match nginx {
            Some((image, _)) => image_facts(run, image).await.map(Some),
            None => Ok(None),
        }
    });
    let expectations = StructureExpectations {
        exposed_ports: vec![format!("{}/tcp", config.app.port)],
        size_budget_bytes: mib(config.smoke.app_size_budget_mb),
        require_healthcheck: true,
    };
    let mut results = grouped(
        "structure app",
        structure::structure_checks(&facts?, &expectations),
    );
    if let (Some(facts), Some((_, nginx_config))) = (nginx_facts?, nginx) {
        let expectations = StructureExpectations {
            exposed_ports: vec![format!("{}/tcp", nginx_config.port)],
            size_budget_bytes: mib(config.smoke.nginx_size_budget_mb),
            require_healthcheck: false,
        };
        results.extend(grouped(
            "structure nginx",
            structure::structure_checks(&facts, &expectations),
        ));
    }
    Ok(results)
}

fn grouped(group: &str, checks: Vec<CheckResult>) -> Vec<CheckResult> {
    checks
        .into_iter()
        .map(|check| CheckResult {
            group: group.to_owned(),
            ..check
        })
        .collect()
}
