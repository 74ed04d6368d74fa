//! The one integration test binary of dockyard-services: the connection protocol of each kind (pure).

mod protocol;
