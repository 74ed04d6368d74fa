//! `cargo xtask clean`: removes what crashed runs left behind (labelled containers, networks, volumes, work folders).

use std::path::Path;

use dockyard_pipeline::{exit_code, Engine, PipelineError};

use crate::flags;

impl flags::Clean {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let config = crate::load_config(config_path)?;
        let paths = dockyard_config::Paths::new(&config.root, &config.project.name);
        crate::runtime()?.block_on(async {
            let engine = Engine::connect().await.map_err(PipelineError::from)?;
            let removed = dockyard_pipeline::clean(&engine, &config.project.name, &paths).await?;
            if removed.is_empty() {
                println!("nothing to clean for {}", config.project.name);
            } else {
                println!(
                    "removed {} containers, {} networks, {} volumes of {}",
                    removed.containers.len(),
                    removed.networks.len(),
                    removed.volumes.len(),
                    config.project.name
                );
            }
            if self.caches {
                let volume = &config.builder.pip_cache_volume;
                let caches = engine
                    .find_labelled(&[
                        &format!(
                            "{}={}",
                            dockyard_pipeline::PROJECT_LABEL,
                            config.project.name
                        ),
                        dockyard_pipeline::run::CACHE_LABEL,
                    ])
                    .await
                    .map_err(PipelineError::from)?;
                for failure in engine.remove_leftovers(&caches).await {
                    eprintln!("warning: {failure}");
                }
                println!("removed the pip cache volume {volume}");
            }
            Ok(exit_code::OK)
        })
    }
}
