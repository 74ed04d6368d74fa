//! `cargo xtask bench`: measures Dockyard against the hand-scripted way of doing the same work (issue #6).
//!
//! `edit_loop` is figure 7 (the edit loop against the hand-written Dockerfiles of `peers/`), `dev_loop` figure 9 (`cargo xtask dev`, save to served), `platforms` figure 10 (what a second platform costs), `fixture` generates the trees, `baseline` runs the hand-scripted baselines, `probe` is the work a measured
//! child process does, `figures` drives the figures, `stats` and `verdict` turn samples into ratios and
//! verdicts, `render` writes BENCHMARKS.md.

pub mod baseline;
mod cold;
mod dev_loop;
mod edit_loop;
pub mod error;
pub mod figures;
pub mod fixture;
pub mod machine;
mod platforms;
pub mod probe;
pub mod render;
mod services;
pub mod stats;
pub mod verdict;

pub use error::BenchError;
pub use stats::Summary;
pub use verdict::{Check, Row, Statistic, Target, Unit, Verdict};
