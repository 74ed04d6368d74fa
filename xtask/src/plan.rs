//! `cargo xtask plan`: the resolved configuration and the steps that would run; never touches the engine.

use std::path::Path;

use dockyard_pipeline::{exit_code, plan, provenance, state};

use crate::flags;

impl flags::Plan {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let config = crate::load_config(config_path)?;
        let provenance = provenance::detect(&config.root);
        let prepared = plan::prepare(config, provenance)?;
        let state = state::load(&prepared.paths.state);
        let plan = plan::plan(&prepared, &state);
        if self.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", plan.render_text());
        }
        Ok(exit_code::OK)
    }
}
