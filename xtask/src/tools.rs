//! `cargo xtask tools`: provisions the pinned tools (glue over `crates/dockyard-tools`) and prints where each is.

use std::path::Path;

use dockyard_pipeline::{exit_code, progress, PipelineError};
use dockyard_tools::Tool;

use crate::flags;

impl flags::Tools {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let config = crate::load_config(config_path)?;
        let dir = dockyard_tools::tools_dir(
            &dockyard_config::Paths::new(&config.root, &config.project.name).tools,
        );
        let toolbox = dockyard_tools::provision(&dir, &|line| progress::detail(line))
            .map_err(PipelineError::from)?;
        for tool in Tool::ALL {
            println!(
                "{:<25} {:<10} {}",
                tool.program(),
                tool.pinned_version(),
                toolbox.path(tool).display()
            );
        }
        Ok(exit_code::OK)
    }
}
