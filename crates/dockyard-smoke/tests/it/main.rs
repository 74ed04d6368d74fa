//! Integration tests for dockyard-smoke: the HTTP client against tiny local servers, check evaluation, static URLs, structure findings and report renderings.

mod checks;
mod http;
mod report;
mod static_urls;
mod structure;
mod support;
