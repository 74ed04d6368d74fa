//! Integration tests of the xtask binary: the pipeline on a real engine, the real-world corpus, and tidy checks of
//! the repository itself.
#![allow(
    clippy::print_stderr,
    reason = "tests report skips and measured figures on stderr"
)]

mod assembled;
mod assets;
mod corpus;
mod dependencies;
mod dev;
mod engine;
mod faults;
mod hostile_builder;
mod index;
mod load;
mod matrix;
mod platform_engine;
mod platforms;
mod registry;
mod registry_container;
mod registry_proxy;
mod registry_tests;
mod release;
mod remote;
mod scan;
mod second_engine;
mod secrets;
mod services;
mod smoke;
mod structure;
mod support;
mod tidy;
mod workflows;
