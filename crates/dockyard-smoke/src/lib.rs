//! Dockyard's smoke run, whole: the run's private network and data volume, the one-off migration, the app and
//! nginx containers, readiness, the built-in and declared checks, the bounded load, the graceful stops and the
//! report; and `cargo xtask run`'s one-off command in the same environment.
//!
//! * [`smoke`] runs everything from [`SmokeInputs`] and writes the reports; a failed check is in the report,
//!   never an `Err`. [`run_command`] runs one command from a [`RunContext`].
//! * [`readiness`] is the wait until the app answers, as a pure state machine driven by an async loop.
//! * [`http::send`] and [`http::Connection`] are the HTTP client (hyper); [`checks::evaluate`] compares a
//!   response with a declared check; [`static_urls`] reads static URLs from a page; [`structure`] judges
//!   [`ImageFacts`]; [`load::run_load`] holds a bounded load; [`SmokeReport`] renders a table, JSON and JUnit XML.
//!
//! Nothing is printed here: progress goes through the caller's [`Progress`], failures are [`SmokeError`]s.
//! Everything the run creates carries the caller's labels, and the caller removes it whatever happens.
#![warn(missing_docs)]

pub mod checks;
pub mod django_checks;
mod environment;
mod error;
pub mod http;
mod http_checks;
mod images;
mod inputs;
mod lifecycle;
pub mod load;
mod processes;
pub mod readiness;
pub mod report;
mod run;
pub mod static_urls;
pub mod structure;

pub use checks::Mismatch;
pub use environment::{run_command, DATA_MOUNT};
pub use error::{HttpError, SmokeError};
pub use http::{HttpRequest, HttpResponse};
pub use images::COMPILER_PROBE;
pub use inputs::{Progress, ReportPaths, RunContext, SmokeImage, SmokeInputs, StaticFiles};
pub use load::LoadOptions;
pub use report::{CheckResult, SmokeReport};
pub use run::{smoke, SmokeOutcome};
pub use structure::{ImageFacts, StructureExpectations};
