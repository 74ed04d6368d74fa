//! `cargo xtask reliability`: RELIABILITY.md from the records the test suite left behind.

use std::path::Path;

use anyhow::{bail, Context};
use dockyard_reliability::{listed_cases, load_records, records_dir, render_markdown};

use crate::flags;

impl flags::Reliability {
    pub(crate) fn run(self, workspace: &Path) -> anyhow::Result<i32> {
        let dir = records_dir();
        let records = load_records(&dir)?;
        let markdown_path = workspace.join("RELIABILITY.md");
        if self.check {
            let committed = std::fs::read_to_string(&markdown_path)
                .with_context(|| format!("cannot read {}", markdown_path.display()))?;
            let missing: Vec<String> = listed_cases(&committed)
                .into_iter()
                .filter(|(category, case)| {
                    !records
                        .iter()
                        .any(|r| r.category == *category && r.case == *case)
                })
                .map(|(category, case)| format!("{}: {case}", category.title()))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "{} cases listed in {} were not recorded in {}:\n  {}\nhint: run `cargo test --workspace` first; a case is recorded only when its test passed",
                    missing.len(),
                    markdown_path.display(),
                    dir.display(),
                    missing.join("\n  ")
                );
            }
            println!(
                "reliability: all {} listed cases recorded ({} records in {})",
                listed_cases(&committed).len(),
                records.len(),
                dir.display()
            );
            return Ok(0);
        }
        if records.is_empty() {
            bail!(
                "no reliability records in {}\nhint: run `cargo test --workspace` first",
                dir.display()
            );
        }
        std::fs::write(&markdown_path, render_markdown(&records))
            .with_context(|| format!("cannot write {}", markdown_path.display()))?;
        println!(
            "wrote {} ({} cases)",
            markdown_path.display(),
            records.len()
        );
        Ok(0)
    }
}
