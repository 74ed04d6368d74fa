//! The one integration test binary: plans of copies of the real project, snapshotted, the exit code table, the
//! progress views and the throwaway secret.

mod assets;
mod built_in_templates;
mod exit_codes;
mod fixture;
mod plan;
mod progress;
mod secret;
