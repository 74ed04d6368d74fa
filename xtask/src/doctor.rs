//! `cargo xtask doctor`: one line per check, one fix per problem, non-zero when something is missing.

use std::path::Path;

use dockyard_pipeline::{doctor, exit_code};

use crate::flags;

impl flags::Doctor {
    pub(crate) fn run(self, config_path: &Path) -> anyhow::Result<i32> {
        let config = crate::load_config(config_path)?;
        let checks = crate::runtime()?.block_on(doctor::doctor(&config));
        for check in &checks {
            let status = if check.ok { "ok  " } else { "FAIL" };
            println!("{status} {:<13} {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                println!("     fix: {fix}");
            }
        }
        let failures: Vec<_> = checks.iter().filter(|check| !check.ok).collect();
        if failures.is_empty() {
            println!("all {} checks passed", checks.len());
            return Ok(exit_code::OK);
        }
        println!("{} of {} checks failed", failures.len(), checks.len());
        if failures.iter().any(|check| check.engine_unreachable) {
            Ok(exit_code::ENGINE_UNREACHABLE)
        } else {
            Ok(exit_code::MISSING_PREREQUISITE)
        }
    }
}
