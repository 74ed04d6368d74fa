//! Integration tests of the xtask binary: the pipeline on a real engine, and tidy checks of the repository itself.

mod engine;
mod support;
mod tidy;
