//! The one integration test binary: plans of copies of the real project, snapshotted, and the exit code table.

mod built_in_templates;
mod exit_codes;
mod fixture;
mod plan;
