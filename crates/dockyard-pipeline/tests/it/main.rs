//! The one integration test binary: plans of copies of the real project, snapshotted, the exit code table, and the throwaway secret.

mod exit_codes;
mod fixture;
mod plan;
mod secret;
