//! The one integration test binary: plans of copies of the real project, snapshotted, the exit code table, and the
//! progress views.

mod assets;
mod built_in_templates;
mod exit_codes;
mod fixture;
mod plan;
mod progress;
