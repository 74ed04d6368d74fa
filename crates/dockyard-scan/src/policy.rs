//! The gate: judging parsed trivy reports against a [`Policy`] and an expiring ignore list, in Rust rather than with trivy's own flags.
//!
//! trivy always runs with `--exit-code 0` and without ignore files; [`evaluate`] decides. Every
//! finding is kept with its [`Verdict`], so the renderings can show what was suppressed and why.
//!
//! The rules:
//!
//! * a vulnerability fails at or above [`Policy::fail_on_severity`], unless
//!   [`Policy::ignore_unfixed`] is set and no fixed version exists ([`Verdict::Unfixed`]);
//! * any secret fails, whatever its severity (when [`Policy::secrets_fail`], the normal case);
//! * a misconfiguration with status `FAIL` (or none) fails at or above
//!   [`Policy::misconfig_fail_on_severity`]; passed checks (`PASS`, `EXCEPTION`) are not findings;
//! * an [`IgnoreEntry`] suppresses a finding when its id and all of its scopes match; an expired
//!   entry suppresses nothing and fails the gate; an entry that matched nothing is reported.

use std::cmp::Reverse;
use std::collections::BTreeMap;

pub use crate::date::{today_utc, Date};
use crate::report::{Misconfiguration, SecretFinding, TrivyReport, TrivyResult, Vulnerability};
use crate::Severity;

/// What fails the gate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    /// Vulnerabilities at or above this severity fail.
    pub fail_on_severity: Severity,
    /// Vulnerabilities without a fixed version do not fail (they get [`Verdict::Unfixed`]).
    pub ignore_unfixed: bool,
    /// Failed configuration checks at or above this severity fail.
    pub misconfig_fail_on_severity: Severity,
    /// Secrets fail whatever their severity; always true in practice (false only reports them).
    pub secrets_fail: bool,
}

impl Default for Policy {
    /// `deploy.toml`'s defaults: fail on HIGH and CRITICAL vulnerabilities (fixed or not), HIGH and
    /// CRITICAL misconfigurations, and any secret.
    fn default() -> Policy {
        Policy {
            fail_on_severity: Severity::High,
            ignore_unfixed: false,
            misconfig_fail_on_severity: Severity::High,
            secrets_fail: true,
        }
    }
}

/// One accepted risk: a finding id, why it is accepted, until when, and optionally where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IgnoreEntry {
    /// The finding id: a CVE or GHSA id, a secret rule id (`aws-access-key-id`) or a check id
    /// (`DS-0002`); compared without regard to ASCII case.
    pub id: String,
    /// Why the risk is accepted (shown next to every suppressed finding, and in SARIF).
    pub reason: String,
    /// The last day the entry applies; from the next day on it suppresses nothing and fails the gate.
    pub expires: Date,
    /// Only findings in this image (`app`, `nginx`).
    pub image: Option<String>,
    /// Only vulnerabilities whose package URL starts with this, for example `pkg:deb/debian/bash`
    /// (which matches `pkg:deb/debian/bash@5.0-4?arch=amd64`, not `pkg:deb/debian/bash-completion@…`).
    pub package: Option<String>,
    /// Only findings whose target or package path matches: a prefix ending at a `/` boundary
    /// (`app/tests` matches `app/tests/x.py`), or a pattern where `*` stands for any run of
    /// characters (`*/fixtures/*.pem`). Leading `/`s are ignored on both sides.
    pub path: Option<String>,
}

/// What kind of thing trivy found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A vulnerable package.
    Vulnerability,
    /// A secret in a file or in the image configuration.
    Secret,
    /// A failed configuration check (of the image configuration).
    Misconfiguration,
}

impl FindingKind {
    /// `vulnerability`, `secret` or `misconfiguration`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Vulnerability => "vulnerability",
            FindingKind::Secret => "secret",
            FindingKind::Misconfiguration => "misconfiguration",
        }
    }
}

/// What the policy says about one finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Over the policy: the gate fails.
    Fails,
    /// Reported, but below the severity that fails.
    BelowThreshold,
    /// At or above the failing severity, but ignored because no fix exists and the policy ignores unfixed vulnerabilities.
    Unfixed,
    /// Suppressed by a valid (unexpired) ignore entry.
    Suppressed {
        /// The entry's id.
        entry_id: String,
        /// The entry's reason.
        reason: String,
    },
}

/// One finding of one image, with the policy's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The image's name in `deploy.toml` (`app`, `nginx`).
    pub image: String,
    /// Vulnerability, secret or misconfiguration.
    pub kind: FindingKind,
    /// The CVE/GHSA id, secret rule id or check id.
    pub id: String,
    /// trivy's severity.
    pub severity: Severity,
    /// trivy's target: `"app.tar (debian 12.5)"`, `"/app/deploy.sh"`, ...
    pub target: String,
    /// The package name, for vulnerabilities.
    pub package: Option<String>,
    /// The package URL, for vulnerabilities (what [`IgnoreEntry::package`] matches).
    pub purl: Option<String>,
    /// The installed version, for vulnerabilities.
    pub installed_version: Option<String>,
    /// The fixed version(s), for vulnerabilities that have one.
    pub fixed_version: Option<String>,
    /// A one-line description (trivy's title, or the id when there is none).
    pub title: String,
    /// Where exactly: `"/app/deploy.sh:3"` for secrets (target and first line), the package path for language packages.
    pub location: Option<String>,
    /// A page about the finding, when trivy gives one.
    pub primary_url: Option<String>,
    /// The policy's verdict.
    pub verdict: Verdict,
}

/// The outcome of [`evaluate`]: every finding with its verdict, and the state of the ignore list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evaluation {
    /// Every finding, ordered by image, kind, severity (highest first), id, package, then target and location.
    pub findings: Vec<Finding>,
    /// Entries whose expiry date has passed: they suppress nothing and fail the gate.
    pub expired_entries: Vec<IgnoreEntry>,
    /// Unexpired entries that matched no finding (they do not fail the gate).
    pub unused_entries: Vec<IgnoreEntry>,
    /// How many findings each entry id suppressed (ids that suppressed nothing are absent).
    pub suppressed_counts: BTreeMap<String, usize>,
}

impl Evaluation {
    /// Whether the gate passes: no finding over the policy and no expired ignore entry.
    pub fn passed(&self) -> bool {
        self.n_failing() == 0 && self.expired_entries.is_empty()
    }

    /// How many findings are over the policy.
    pub fn n_failing(&self) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.verdict == Verdict::Fails)
            .count()
    }

    /// How many findings an ignore entry suppressed.
    pub fn n_suppressed(&self) -> usize {
        self.findings
            .iter()
            .filter(|finding| matches!(finding.verdict, Verdict::Suppressed { .. }))
            .count()
    }
}

/// Judges the reports of several images (`(image name, report)`) against the policy and the
/// ignore list, as of `today` (an entry expiring today still applies).
pub fn evaluate(
    reports: &[(String, TrivyReport)],
    policy: &Policy,
    ignores: &[IgnoreEntry],
    today: Date,
) -> Evaluation {
    let entry_is_expired: Vec<bool> = ignores.iter().map(|entry| entry.expires < today).collect();
    let mut entry_was_used = vec![false; ignores.len()];
    let mut findings = Vec::new();
    for (image, report) in reports {
        for result in &report.results {
            let candidates = result
                .vulnerabilities
                .iter()
                .map(|vulnerability| vulnerability_candidate(image, result, vulnerability, policy))
                .chain(
                    result
                        .secrets
                        .iter()
                        .map(|secret| secret_candidate(image, result, secret, policy)),
                )
                .chain(
                    result
                        .misconfigurations
                        .iter()
                        .filter(|misconfiguration| is_failed_check(misconfiguration))
                        .map(|misconfiguration| {
                            misconfiguration_candidate(image, result, misconfiguration, policy)
                        }),
                );
            for candidate in candidates {
                let mut finding = candidate.finding;
                let mut suppressing_entry = None;
                for (index, entry) in ignores.iter().enumerate() {
                    if entry_is_expired[index]
                        || !entry_matches(entry, &finding, candidate.package_path)
                    {
                        continue;
                    }
                    entry_was_used[index] = true;
                    suppressing_entry.get_or_insert(entry);
                }
                if let Some(entry) = suppressing_entry {
                    finding.verdict = Verdict::Suppressed {
                        entry_id: entry.id.clone(),
                        reason: entry.reason.clone(),
                    };
                }
                findings.push(finding);
            }
        }
    }
    findings.sort_by(|left, right| finding_order_key(left).cmp(&finding_order_key(right)));

    let mut suppressed_counts = BTreeMap::new();
    for finding in &findings {
        if let Verdict::Suppressed { entry_id, .. } = &finding.verdict {
            *suppressed_counts.entry(entry_id.clone()).or_insert(0) += 1;
        }
    }
    let entries_where = |wanted: &dyn Fn(usize) -> bool| {
        ignores
            .iter()
            .enumerate()
            .filter(|(index, _)| wanted(*index))
            .map(|(_, entry)| entry.clone())
            .collect::<Vec<_>>()
    };
    Evaluation {
        findings,
        expired_entries: entries_where(&|index| entry_is_expired[index]),
        unused_entries: entries_where(&|index| !entry_is_expired[index] && !entry_was_used[index]),
        suppressed_counts,
    }
}

type FindingOrderKey<'a> = (
    &'a str,
    FindingKind,
    Reverse<Severity>,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
);

fn finding_order_key(finding: &Finding) -> FindingOrderKey<'_> {
    (
        &finding.image,
        finding.kind,
        Reverse(finding.severity),
        &finding.id,
        finding.package.as_deref(),
        &finding.target,
        finding.location.as_deref(),
        finding.installed_version.as_deref(),
    )
}

/// A finding before the ignore list is applied, with what only matching needs.
struct Candidate<'a> {
    finding: Finding,
    package_path: Option<&'a str>,
}

fn severity_verdict(severity: Severity, fail_on_severity: Severity) -> Verdict {
    if severity >= fail_on_severity {
        Verdict::Fails
    } else {
        Verdict::BelowThreshold
    }
}

/// No fix exists: no fixed version, and trivy does not say `fixed` (a `fixed` status without a
/// version is treated as fixable, so that it fails rather than slips through).
fn has_no_fix(vulnerability: &Vulnerability) -> bool {
    vulnerability.fixed_version.is_none()
        && !vulnerability
            .status
            .as_deref()
            .is_some_and(|status| status.eq_ignore_ascii_case("fixed"))
}

fn vulnerability_candidate<'a>(
    image: &str,
    result: &TrivyResult,
    vulnerability: &'a Vulnerability,
    policy: &Policy,
) -> Candidate<'a> {
    let verdict = match severity_verdict(vulnerability.severity, policy.fail_on_severity) {
        Verdict::Fails if policy.ignore_unfixed && has_no_fix(vulnerability) => Verdict::Unfixed,
        verdict => verdict,
    };
    Candidate {
        finding: Finding {
            image: image.to_owned(),
            kind: FindingKind::Vulnerability,
            id: vulnerability.id.clone(),
            severity: vulnerability.severity,
            target: result.target.clone(),
            package: Some(vulnerability.pkg_name.clone()).filter(|name| !name.is_empty()),
            purl: vulnerability.purl.clone(),
            installed_version: vulnerability.installed_version.clone(),
            fixed_version: vulnerability.fixed_version.clone(),
            title: vulnerability
                .title
                .clone()
                .unwrap_or_else(|| vulnerability.id.clone()),
            location: vulnerability.pkg_path.clone(),
            primary_url: vulnerability.primary_url.clone(),
            verdict,
        },
        package_path: vulnerability.pkg_path.as_deref(),
    }
}

fn secret_candidate<'a>(
    image: &str,
    result: &TrivyResult,
    secret: &SecretFinding,
    policy: &Policy,
) -> Candidate<'a> {
    let verdict = if policy.secrets_fail {
        Verdict::Fails
    } else {
        Verdict::BelowThreshold
    };
    let location = match secret.start_line {
        Some(line) => format!("{}:{line}", result.target),
        None => result.target.clone(),
    };
    Candidate {
        finding: Finding {
            image: image.to_owned(),
            kind: FindingKind::Secret,
            id: secret.rule_id.clone(),
            severity: secret.severity,
            target: result.target.clone(),
            package: None,
            purl: None,
            installed_version: None,
            fixed_version: None,
            title: secret
                .title
                .clone()
                .unwrap_or_else(|| secret.rule_id.clone()),
            location: Some(location),
            primary_url: None,
            verdict,
        },
        package_path: None,
    }
}

/// `FAIL`, or no status at all; `PASS` and `EXCEPTION` (listed with `--include-non-failures`) are not findings.
fn is_failed_check(misconfiguration: &Misconfiguration) -> bool {
    !misconfiguration.status.as_deref().is_some_and(|status| {
        status.eq_ignore_ascii_case("PASS") || status.eq_ignore_ascii_case("EXCEPTION")
    })
}

fn misconfiguration_candidate<'a>(
    image: &str,
    result: &TrivyResult,
    misconfiguration: &Misconfiguration,
    policy: &Policy,
) -> Candidate<'a> {
    Candidate {
        finding: Finding {
            image: image.to_owned(),
            kind: FindingKind::Misconfiguration,
            id: misconfiguration.id.clone(),
            severity: misconfiguration.severity,
            target: result.target.clone(),
            package: None,
            purl: None,
            installed_version: None,
            fixed_version: None,
            title: misconfiguration
                .title
                .clone()
                .or_else(|| misconfiguration.message.clone())
                .unwrap_or_else(|| misconfiguration.id.clone()),
            location: None,
            primary_url: misconfiguration.primary_url.clone(),
            verdict: severity_verdict(misconfiguration.severity, policy.misconfig_fail_on_severity),
        },
        package_path: None,
    }
}

/// The name a scan gives another platform's image (`[platforms] targets`): `app linux/arm64`. An ignore entry
/// scoped to `app` applies to it too.
pub fn platform_image_name(image: &str, platform: &str) -> String {
    format!("{image} {platform}")
}

/// The image of a scanned image's name: `app` of `app` and of `app linux/arm64`.
fn image_of(name: &str) -> &str {
    name.split(' ').next().unwrap_or(name)
}

/// Whether `entry` applies to `finding`: the id, and every scope the entry has.
fn entry_matches(entry: &IgnoreEntry, finding: &Finding, package_path: Option<&str>) -> bool {
    if !entry.id.trim().eq_ignore_ascii_case(&finding.id) {
        return false;
    }
    if let Some(image) = &entry.image {
        if image != image_of(&finding.image) {
            return false;
        }
    }
    if let Some(prefix) = &entry.package {
        if !finding
            .purl
            .as_deref()
            .is_some_and(|purl| package_url_matches(prefix, purl))
        {
            return false;
        }
    }
    if let Some(pattern) = &entry.path {
        let candidates = [Some(finding.target.as_str()), package_path];
        if !candidates
            .into_iter()
            .flatten()
            .any(|candidate| path_matches(pattern, candidate))
        {
            return false;
        }
    }
    true
}

/// `prefix` is a prefix of `purl`; when the prefix names a package without a version, it must
/// end where the name ends (`pkg:deb/debian/bash` does not match `bash-completion`).
pub fn package_url_matches(prefix: &str, purl: &str) -> bool {
    let Some(rest) = purl.strip_prefix(prefix) else {
        return false;
    };
    prefix.contains('@')
        || prefix.ends_with('/')
        || rest.is_empty()
        || rest.starts_with(['@', '?', '#'])
}

/// Matches an ignore entry's `path` against a target or package path: a `*` pattern must match
/// the whole path (`*` standing for any run of characters, `/` included); otherwise the pattern is
/// a prefix ending at a `/` boundary. Leading `/`s are ignored on both sides.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches('/');
    let path = path.trim_start_matches('/');
    if pattern.contains('*') {
        return glob_matches(pattern.as_bytes(), path.as_bytes());
    }
    let Some(rest) = path.strip_prefix(pattern) else {
        return false;
    };
    pattern.is_empty() || pattern.ends_with('/') || rest.is_empty() || rest.starts_with('/')
}

/// Whole-string match where `*` matches any run of bytes (iterative, with one backtrack point).
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut pattern_index, mut text_index) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_index < text.len() {
        match pattern.get(pattern_index) {
            Some(b'*') => {
                backtrack = Some((pattern_index, text_index));
                pattern_index += 1;
            }
            Some(&byte) if byte == text[text_index] => {
                pattern_index += 1;
                text_index += 1;
            }
            _ => match backtrack {
                Some((star_index, star_text_index)) => {
                    pattern_index = star_index + 1;
                    text_index = star_text_index + 1;
                    backtrack = Some((star_index, star_text_index + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pattern_index..].iter().all(|&byte| byte == b'*')
}
