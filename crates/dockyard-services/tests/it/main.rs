//! The one integration test binary of dockyard-services: the connection protocol of each kind (pure), then the
//! services on a real engine.
#![allow(
    clippy::print_stderr,
    reason = "tests report skips, errors and measured times on stderr"
)]

mod engine;
mod protocol;
mod support;
