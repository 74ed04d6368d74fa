//! Integration tests for dockyard-smoke: the HTTP client against tiny local servers, the bounded load, check evaluation, static URLs, structure findings and report renderings.

mod checks;
mod http;
mod load;
mod report;
mod static_urls;
mod structure;
mod support;
