//! Shared helpers of the tests: fixture reports, dates and ignore entries.

use std::path::PathBuf;

use dockyard_scan::{Date, IgnoreEntry, TrivyReport};

/// The folder of the trivy report fixtures (see its SOURCES.md).
pub fn fixtures_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trivy")
}

/// A fixture's text.
pub fn fixture_text(name: &str) -> String {
    let path = fixtures_folder().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A fixture, parsed.
pub fn fixture(name: &str) -> TrivyReport {
    dockyard_scan::parse_report(&fixture_text(name)).unwrap()
}

pub const DEBIAN: &str = "debian-buster.json.golden";
pub const ALPINE: &str = "alpine-310.json.golden";
pub const SECRETS: &str = "secrets.json.golden";
pub const IMAGE_0_76: &str = "image-secret-misconfig-0.76.json.golden";

/// A date from `YYYY-MM-DD`.
pub fn date(text: &str) -> Date {
    text.parse().unwrap()
}

/// An unscoped ignore entry.
pub fn entry(id: &str, expires: &str, reason: &str) -> IgnoreEntry {
    IgnoreEntry {
        id: id.to_owned(),
        reason: reason.to_owned(),
        expires: date(expires),
        image: None,
        package: None,
        path: None,
    }
}
