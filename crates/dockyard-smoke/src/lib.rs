//! Engine-free building blocks of Dockyard's smoke tests: an HTTP client, HTTP and static-file checks, image structure findings and the report.
//!
//! The async orchestration (network, containers, waits) lives with the caller; everything here
//! is either pure or plain TCP, and never talks to the Docker engine:
//!
//! * [`http::send`] sends one HTTP/1.0 request over TCP and reads the whole response;
//! * [`checks::evaluate`] compares a response with a declared [`CheckSpec`] and lists the
//!   [`Mismatch`]es, and [`checks::http_check_result`] turns the outcome into a report line;
//! * [`static_urls::static_urls`] finds the static file URLs in a rendered page, and
//!   [`static_urls::is_hashed_static_name`] recognises Django's manifest names;
//! * [`structure::structure_checks`] judges [`ImageFacts`] collected by the caller against
//!   [`StructureExpectations`], and [`structure::find_secret_looking_values`] says where an image
//!   leaks secret-looking values;
//! * [`load::run_load`] holds a bounded load (fixed connections, fixed time) and counts statuses,
//!   errors and latency percentiles;
//! * [`SmokeReport`] collects [`CheckResult`]s and renders them as a text table, JSON and
//!   JUnit XML.
//!
//! Nothing is printed: functions return data and [`SmokeError`]s (with [`SmokeError::hint`]).
#![warn(missing_docs)]

pub mod checks;
mod error;
pub mod http;
pub mod load;
pub mod report;
pub mod static_urls;
pub mod structure;

pub use checks::{CheckSpec, Mismatch, Via};
pub use error::SmokeError;
pub use http::{HttpRequest, HttpResponse};
pub use report::{CheckResult, SmokeReport};
pub use structure::{ImageFacts, StructureExpectations};
