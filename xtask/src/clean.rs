//! `cargo xtask clean`: removes what crashed runs left behind (labelled containers, networks, volumes, work folders).

use std::path::Path;

use dockyard_pipeline::{exit_code, Engine, PipelineError};

use crate::flags;

impl flags::Clean {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let config = crate::load_config(config_path)?;
        let report = crate::runtime()?.block_on(async {
            let engine = Engine::connect().await.map_err(PipelineError::from)?;
            dockyard_pipeline::clean(&engine, &config, self.caches, self.dev).await
        })?;
        print!("{}", report.render());
        Ok(exit_code::OK)
    }
}
