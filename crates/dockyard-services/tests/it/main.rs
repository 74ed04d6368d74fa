//! The one integration test binary of dockyard-services: the connection protocol of each kind (pure), then the
//! services on a real engine.

mod engine;
mod protocol;
mod support;
