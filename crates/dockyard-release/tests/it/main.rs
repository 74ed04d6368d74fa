//! The release crate's tests in one binary: credentials, the preflight, retries and release.json's summary.

mod credentials;
mod manifest;
mod preflight;
