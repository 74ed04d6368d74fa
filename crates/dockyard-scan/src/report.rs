//! The typed model of trivy's `--format json` report (SchemaVersion 2), [`Severity`], and [`parse_report`].
//!
//! trivy adds fields often and leaves most of them out when empty, so the model is lenient:
//! unknown fields are ignored, every field may be missing or `null`, and an unknown severity
//! string becomes [`Severity::Unknown`]. A private serde mirror of the JSON is converted into the
//! public types, which only keep what the policy and the renderings need.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ScanError;

pub use dockyard_config::Severity;

/// The severity of a string in a trivy report: case-insensitive, and anything unknown is
/// [`Severity::Unknown`] (a report never fails to parse because of a new severity).
pub fn severity_from_report_text(text: &str) -> Severity {
    Severity::from_name_ignoring_case(text).unwrap_or(Severity::Unknown)
}

/// Lenient, for reports: any string ([`severity_from_report_text`]); `null`, a number or anything
/// else is [`Severity::Unknown`] rather than a failed report.
fn lenient_severity<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Severity, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum SeverityField {
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match SeverityField::deserialize(deserializer)? {
        SeverityField::Text(text) => severity_from_report_text(&text),
        SeverityField::Other(_) => Severity::Unknown,
    })
}

/// A whole trivy report: one scanned artifact and its results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrivyReport {
    /// `SchemaVersion`, 2 for every trivy since 0.20.
    pub schema_version: Option<u32>,
    /// `Trivy.Version`, for example `0.76.0` (`dev` in trivy's own golden files).
    pub trivy_version: Option<String>,
    /// `ArtifactName`: the image reference or archive path given to trivy.
    pub artifact_name: Option<String>,
    /// `ArtifactType`: `container_image`, `filesystem`, `repository`, ...
    pub artifact_type: Option<String>,
    /// `Results`: one per target (the OS packages, a language package folder, a file with secrets, ...).
    pub results: Vec<TrivyResult>,
}

/// One target of a report and what was found in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrivyResult {
    /// `Target`: `"app.tar (debian 12.5)"`, `"/app/deploy.sh"`, `"Dockerfile"`, ...
    pub target: String,
    /// `Class`: `os-pkgs`, `lang-pkgs`, `config`, `secret`, `license`, ...
    pub class: Option<String>,
    /// `Type`: the OS family (`debian`), a language type (`python-pkg`) or a config type (`dockerfile`); absent for secrets.
    pub kind: Option<String>,
    /// `Vulnerabilities`.
    pub vulnerabilities: Vec<Vulnerability>,
    /// `Secrets`.
    pub secrets: Vec<SecretFinding>,
    /// `Misconfigurations`.
    pub misconfigurations: Vec<Misconfiguration>,
}

/// One vulnerable package (trivy's `DetectedVulnerability`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vulnerability {
    /// `VulnerabilityID`: `CVE-…`, `GHSA-…`, `DSA-…`.
    pub id: String,
    /// `PkgName`.
    pub pkg_name: String,
    /// `PkgPath`: where a language package was found (a `dist-info` folder, a jar).
    pub pkg_path: Option<String>,
    /// `PkgIdentifier.PURL`, for example `pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10.1`.
    pub purl: Option<String>,
    /// `InstalledVersion`.
    pub installed_version: Option<String>,
    /// `FixedVersion`: empty or missing when there is no fix (may be a comma-separated list).
    pub fixed_version: Option<String>,
    /// `Status`: `affected`, `fixed`, `will_not_fix`, `fix_deferred`, `end_of_life`, ...
    pub status: Option<String>,
    /// `Severity` (the string, not `VendorSeverity`).
    pub severity: Severity,
    /// `Title`.
    pub title: Option<String>,
    /// `PrimaryURL`, usually `https://avd.aquasec.com/nvd/<id>`.
    pub primary_url: Option<String>,
    /// `VendorSeverity`: each data source's severity as trivy's integer (0 unknown … 4 critical), kept verbatim.
    pub vendor_severity: BTreeMap<String, i64>,
}

/// One secret found in a file or in the image configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretFinding {
    /// `RuleID`: `aws-access-key-id`, `github-pat`, or a custom rule's id.
    pub rule_id: String,
    /// `Category`: `AWS`, `GitHub`, ...
    pub category: Option<String>,
    /// `Severity`.
    pub severity: Severity,
    /// `Title`.
    pub title: Option<String>,
    /// `StartLine`, 1-based.
    pub start_line: Option<u64>,
    /// `EndLine`, 1-based.
    pub end_line: Option<u64>,
    /// `Match`: the matching line, with the secret already masked by trivy.
    pub match_text: Option<String>,
}

/// One failed (or passed) configuration check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Misconfiguration {
    /// `ID` (`DS-0002`), or the older `AVDID` (`AVD-DS-0002`) when `ID` is missing.
    pub id: String,
    /// `Title`.
    pub title: Option<String>,
    /// `Message`: what is wrong in this artifact.
    pub message: Option<String>,
    /// `Severity`.
    pub severity: Severity,
    /// `Status`: `FAIL`, `PASS` or `EXCEPTION`.
    pub status: Option<String>,
    /// `Resolution`.
    pub resolution: Option<String>,
    /// `PrimaryURL`.
    pub primary_url: Option<String>,
}

/// Parses trivy's `--format json` output.
///
/// Unknown fields are ignored and missing ones take their defaults; only text that is not JSON,
/// or JSON of the wrong shape (a string where a list belongs), is an error, naming the line and column.
pub fn parse_report(json: &str) -> Result<TrivyReport, ScanError> {
    let raw: RawReport = serde_json::from_str(json).map_err(|error| invalid_report(&error))?;
    Ok(raw.into_report())
}

fn invalid_report(error: &serde_json::Error) -> ScanError {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let reason = message
        .strip_suffix(&position)
        .unwrap_or(&message)
        .to_owned();
    ScanError::InvalidReport {
        path: None,
        line: error.line(),
        column: error.column(),
        reason,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawReport {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    trivy: Option<RawTrivy>,
    #[serde(default)]
    artifact_name: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    results: Option<Vec<RawResult>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTrivy {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawResult {
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default, rename = "Type")]
    kind: Option<String>,
    #[serde(default)]
    vulnerabilities: Option<Vec<RawVulnerability>>,
    #[serde(default)]
    secrets: Option<Vec<RawSecret>>,
    #[serde(default)]
    misconfigurations: Option<Vec<RawMisconfiguration>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawVulnerability {
    #[serde(default, rename = "VulnerabilityID")]
    vulnerability_id: Option<String>,
    #[serde(default)]
    pkg_name: Option<String>,
    #[serde(default)]
    pkg_path: Option<String>,
    #[serde(default)]
    pkg_identifier: Option<RawPackageIdentifier>,
    #[serde(default)]
    installed_version: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_severity")]
    severity: Severity,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
    /// Values other than integers are dropped rather than failing the whole report.
    #[serde(default)]
    vendor_severity: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawPackageIdentifier {
    #[serde(default, rename = "PURL")]
    purl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawSecret {
    #[serde(default, rename = "RuleID")]
    rule_id: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default, deserialize_with = "lenient_severity")]
    severity: Severity,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    start_line: Option<u64>,
    #[serde(default)]
    end_line: Option<u64>,
    #[serde(default, rename = "Match")]
    match_text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMisconfiguration {
    #[serde(default, rename = "ID")]
    id: Option<String>,
    #[serde(default, rename = "AVDID")]
    avd_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, deserialize_with = "lenient_severity")]
    severity: Severity,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    resolution: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
}

/// `Some` only for text that is not empty: trivy writes `""` and leaves fields out interchangeably.
fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
}

impl RawReport {
    fn into_report(self) -> TrivyReport {
        TrivyReport {
            schema_version: self.schema_version,
            trivy_version: non_empty(self.trivy.and_then(|trivy| trivy.version)),
            artifact_name: non_empty(self.artifact_name),
            artifact_type: non_empty(self.artifact_type),
            results: self
                .results
                .unwrap_or_default()
                .into_iter()
                .map(RawResult::into_result)
                .collect(),
        }
    }
}

impl RawResult {
    fn into_result(self) -> TrivyResult {
        TrivyResult {
            target: self.target.unwrap_or_default(),
            class: non_empty(self.class),
            kind: non_empty(self.kind),
            vulnerabilities: self
                .vulnerabilities
                .unwrap_or_default()
                .into_iter()
                .map(RawVulnerability::into_vulnerability)
                .collect(),
            secrets: self
                .secrets
                .unwrap_or_default()
                .into_iter()
                .map(RawSecret::into_secret)
                .collect(),
            misconfigurations: self
                .misconfigurations
                .unwrap_or_default()
                .into_iter()
                .map(RawMisconfiguration::into_misconfiguration)
                .collect(),
        }
    }
}

impl RawVulnerability {
    fn into_vulnerability(self) -> Vulnerability {
        Vulnerability {
            id: self.vulnerability_id.unwrap_or_default(),
            pkg_name: self.pkg_name.unwrap_or_default(),
            pkg_path: non_empty(self.pkg_path),
            purl: non_empty(self.pkg_identifier.and_then(|identifier| identifier.purl)),
            installed_version: non_empty(self.installed_version),
            fixed_version: non_empty(self.fixed_version),
            status: non_empty(self.status),
            severity: self.severity,
            title: non_empty(self.title),
            primary_url: non_empty(self.primary_url),
            vendor_severity: self
                .vendor_severity
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(source, value)| Some((source, value.as_i64()?)))
                .collect(),
        }
    }
}

impl RawSecret {
    fn into_secret(self) -> SecretFinding {
        SecretFinding {
            rule_id: self.rule_id.unwrap_or_default(),
            category: non_empty(self.category),
            severity: self.severity,
            title: non_empty(self.title),
            start_line: self.start_line,
            end_line: self.end_line,
            match_text: non_empty(self.match_text),
        }
    }
}

impl RawMisconfiguration {
    fn into_misconfiguration(self) -> Misconfiguration {
        Misconfiguration {
            id: non_empty(self.id)
                .or_else(|| non_empty(self.avd_id))
                .unwrap_or_default(),
            title: non_empty(self.title),
            message: non_empty(self.message),
            severity: self.severity,
            status: non_empty(self.status),
            resolution: non_empty(self.resolution),
            primary_url: non_empty(self.primary_url),
        }
    }
}
