//! `clean`: removes what crashed or killed runs left behind, and on request the caches that outlive runs on purpose.

use dockyard_config::DeployConfig;
use dockyard_engine::{Engine, Leftovers, PROJECT_LABEL, RUN_LABEL};

use crate::run::CACHE_LABEL;
use crate::PipelineError;

/// What `clean` removed.
#[derive(Debug, Default)]
pub struct CleanReport {
    /// The project.
    pub project: String,
    /// Containers, networks and volumes labelled with a run of the project.
    pub leftovers: Leftovers,
    /// The cache volumes removed (only when asked for).
    pub caches: Leftovers,
    /// Cache volumes that could not be removed, with the engine's reason.
    pub cache_failures: Vec<String>,
    /// The data volumes `cargo xtask dev` keeps between sessions, removed (only when asked for).
    pub dev_volumes: Vec<String>,
    /// The engines of `[platforms] engines` that did not answer, with the reason: nothing was cleaned there.
    pub unreachable: Vec<String>,
}

impl CleanReport {
    /// One line per kind of thing removed.
    pub fn render(&self) -> String {
        let mut text = if self.leftovers.is_empty() {
            format!("nothing to clean for {}\n", self.project)
        } else {
            format!(
                "removed {} containers, {} networks, {} volumes of {}\n",
                self.leftovers.containers.len(),
                self.leftovers.networks.len(),
                self.leftovers.volumes.len(),
                self.project
            )
        };
        for volume in &self.caches.volumes {
            text.push_str(&format!("removed the cache volume {volume}\n"));
        }
        for volume in &self.dev_volumes {
            text.push_str(&format!("removed the dev data volume {volume}\n"));
        }
        for failure in self.cache_failures.iter().chain(&self.unreachable) {
            text.push_str(&format!("warning: {failure}\n"));
        }
        text
    }
}

/// Removes every container, network and volume that a run of the project left behind (a crashed or killed run)
/// and the run work folders; with `caches`, also the project's cache volumes (the pip cache, the dependencies); with
/// `dev`, also the data volumes `cargo xtask dev` keeps between sessions (its database).
pub async fn clean(
    engine: &Engine,
    config: &DeployConfig,
    caches: bool,
    dev: bool,
) -> Result<CleanReport, PipelineError> {
    let project = config.project.name.clone();
    let project_label = format!("{PROJECT_LABEL}={project}");
    let leftovers = sweep(engine, &[RUN_LABEL, &project_label]).await?;
    for folder in dockyard_config::Paths::new(&config.root, &project).work_dirs() {
        let _ = std::fs::remove_dir_all(folder);
    }
    let mut report = CleanReport {
        project,
        leftovers,
        ..CleanReport::default()
    };
    // A platform's own engine holds its runs' containers, networks and volumes too.
    for platform in &config.platforms {
        let Some(host) = &platform.engine else {
            continue;
        };
        match Engine::connect_to(host).await {
            Ok(engine) => {
                let found = sweep(&engine, &[RUN_LABEL, &project_label]).await?;
                merge(&mut report.leftovers, found);
            }
            Err(error) => report.unreachable.push(format!(
                "{} ([platforms] engines): {error}",
                platform.platform
            )),
        }
    }
    if caches {
        report.caches = engine.find_labelled(&[&project_label, CACHE_LABEL]).await?;
        report.cache_failures = engine
            .remove_leftovers(&report.caches)
            .await
            .into_iter()
            .map(|failure| failure.to_string())
            .collect();
    }
    if dev {
        let dev_label = format!("{}={}", crate::dev::DEV_DATA_LABEL, report.project);
        let mut kept = engine.find_labelled(&[&project_label, &dev_label]).await?;
        kept.containers.clear();
        kept.networks.clear();
        if let Some(failure) = engine.remove_leftovers(&kept).await.into_iter().next() {
            return Err(failure.into());
        }
        report.dev_volumes = kept.volumes;
    }
    Ok(report)
}

/// How many times `clean` lists and removes a run's resources before it trusts an empty listing is final.
const SWEEPS: usize = 3;

/// Lists and removes what carries `labels` until a listing comes back empty: a run killed a moment ago may have
/// requests in flight that the engine completes after the first listing (a container created after its client died).
async fn sweep(engine: &Engine, labels: &[&str]) -> Result<Leftovers, PipelineError> {
    let mut removed = Leftovers::default();
    for _ in 0..SWEEPS {
        let found = engine.find_labelled(labels).await?;
        if found.is_empty() {
            break;
        }
        if let Some(failure) = engine.remove_leftovers(&found).await.into_iter().next() {
            return Err(failure.into());
        }
        merge(&mut removed, found);
    }
    Ok(removed)
}

/// Adds what `found` names to `removed`, each once.
fn merge(removed: &mut Leftovers, found: Leftovers) {
    for (all, new) in [
        (&mut removed.containers, found.containers),
        (&mut removed.networks, found.networks),
        (&mut removed.volumes, found.volumes),
    ] {
        for name in new {
            if !all.contains(&name) {
                all.push(name);
            }
        }
    }
}
