//! [`smoke`]: one whole smoke run. The structure checks run while the containers start; once the app is ready,
//! the HTTP checks run with the engine's health status awaited alongside, then the bounded load when asked, then
//! the graceful stops; the report is written as JSON and JUnit XML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::lifecycle::{self, Running};
use crate::{http_checks, images, load, processes, readiness};
use crate::{
    CheckResult, RunContext, SmokeError, SmokeImage, SmokeInputs, SmokeReport, StaticFiles,
};

/// What a smoke run produced.
#[derive(Debug, Clone)]
pub struct SmokeOutcome {
    /// The report, passed or not.
    pub report: SmokeReport,
    /// The JSON report on disk.
    pub json_path: PathBuf,
    /// The JUnit XML report on disk.
    pub junit_path: PathBuf,
}

/// What the containers phase found.
#[derive(Default)]
struct ContainersPhase {
    results: Vec<CheckResult>,
    start_to_healthy_ms: Option<u64>,
    service_ready_ms: BTreeMap<String, u64>,
    logs: BTreeMap<String, Vec<String>>,
    load_note: Option<String>,
}

/// Runs the smoke tests of the built images and writes the reports. A failed check is not an `Err`: the caller
/// decides from `report.passed()`; `Err` means the run could not even start or finish.
pub async fn smoke(inputs: SmokeInputs<'_>) -> Result<SmokeOutcome, SmokeError> {
    let started = Instant::now();
    let SmokeInputs {
        run,
        nginx_image,
        static_files,
        reports,
        mut notes,
        load,
    } = inputs;
    let nginx_image = nginx_image.as_ref();
    // The image structure checks (inspect, and a probe container per image) need no running app: they run while
    // the containers start and answer.
    let (containers, structure) = tokio::join!(
        containers_phase(&run, nginx_image, static_files, load),
        images::structure_checks(&run, nginx_image),
    );
    let ContainersPhase {
        mut results,
        start_to_healthy_ms,
        service_ready_ms,
        logs,
        load_note,
    } = containers?;
    notes.extend(load_note);
    results.extend(structure?);

    let report = SmokeReport {
        project: run.config.project.name.clone(),
        run_id: run.run_id.to_owned(),
        checks: results,
        start_to_healthy_ms,
        total_ms: started.elapsed().as_millis() as u64,
        service_ready_ms,
        notes,
    };
    if !report.passed() {
        for (container, lines) in &logs {
            run.progress.detail(&format!(
                "--- last {} lines of {container} ---",
                lines.len()
            ));
            for line in lines {
                run.progress.output(container, line);
            }
        }
    }
    write(&reports.json, report.to_json()).await?;
    run.progress.step_summary(&format!(
        "### Dockyard smoke: {}\n\n```\n{}```\n\n",
        report.project,
        report.render_table()
    ));
    write(&reports.junit, report.to_junit_xml()).await?;
    Ok(SmokeOutcome {
        report,
        json_path: reports.json,
        junit_path: reports.junit,
    })
}

/// The running half: start, wait until ready, the HTTP checks (with the engine's health status alongside), the
/// bounded load, the logs, the graceful stops.
async fn containers_phase(
    run: &RunContext<'_>,
    nginx_image: Option<&SmokeImage>,
    static_files: StaticFiles<'_>,
    load: Option<load::LoadOptions>,
) -> Result<ContainersPhase, SmokeError> {
    let mut phase = ContainersPhase::default();
    let Some(running) = lifecycle::start_containers(run, nginx_image, &mut phase.results).await?
    else {
        return Ok(phase);
    };
    if let Some(services) = &running.services {
        phase.service_ready_ms = services
            .ready_times()
            .into_iter()
            .map(|(service, ready)| (service, ready.as_millis() as u64))
            .collect();
    }
    // Django's deployment checks run in their own container while the wait probes the app.
    let (ready, django) = tokio::join!(
        readiness::wait_until_ready(run, &running, &mut phase.results),
        crate::django_checks::run(run, running.django_checks.as_ref()),
    );
    phase.results.extend(django?);
    if let Some(ready) = ready? {
        phase.start_to_healthy_ms = Some(ready.as_millis() as u64);
        // The engine's health status is awaited alongside the HTTP checks, not before them.
        let (engine_health, checked) = tokio::join!(
            readiness::wait_for_engine_health(run, &running),
            http_phase(run, &running, nginx_image, static_files),
        );
        phase.results.push(engine_health?);
        phase.results.extend(checked?);
        phase
            .results
            .extend(processes::readiness_checks(run, &running.processes).await?);
        if let Some(options) = load {
            if phase.results.iter().all(|check| check.passed) {
                let (result, note) = load::load_check(run, &running, options).await;
                phase.results.push(result);
                phase.load_note = Some(note);
            }
        }
    }
    phase.logs = lifecycle::container_logs(run.engine, &running).await;
    lifecycle::stop_checks(run, running, &mut phase.results).await?;
    Ok(phase)
}

/// The declared, static and nginx checks, one after the other.
async fn http_phase(
    run: &RunContext<'_>,
    running: &Running,
    nginx_image: Option<&SmokeImage>,
    static_files: StaticFiles<'_>,
) -> Result<Vec<CheckResult>, SmokeError> {
    let mut results = http_checks::declared_checks(run, running).await;
    results.extend(http_checks::static_checks(run, running, nginx_image, static_files).await?);
    results.extend(http_checks::nginx_checks(run, running).await);
    Ok(results)
}

/// Writes one report, creating its folder.
async fn write(path: &Path, text: String) -> Result<(), SmokeError> {
    let io_error = |operation| {
        move |source| SmokeError::Io {
            operation,
            path: path.to_path_buf(),
            source,
        }
    };
    if let Some(folder) = path.parent() {
        tokio::fs::create_dir_all(folder)
            .await
            .map_err(io_error("creating the folder of"))?;
    }
    tokio::fs::write(path, text)
        .await
        .map_err(io_error("writing the smoke report"))
}
