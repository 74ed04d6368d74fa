//! `[scan]` and its `[[scan.ignore]]` entries: the trivy scan gate.

use toml::Spanned;

use super::numbers::{resolve_in_range, RangeUse};
use super::{fail, resolve_project_relative_path, Origin};
use crate::choices::{ClosedSet, ImageKind, Scanner, Severity};
use crate::error::{line_and_column, ConfigError};
use crate::model::{Scan, ScanIgnore};
use crate::names::{is_package_url_prefix, is_trivy_version, real_day, split_iso_date};
use crate::raw;
use crate::source_map::ValueKind;
use crate::suggestions::{closest_candidate, render_backticked_list};

const DEFAULT_SCANNERS: [Scanner; 3] = [Scanner::Vuln, Scanner::Secret, Scanner::Misconfig];
const DEFAULT_SCAN_IMAGES: [ImageKind; 2] = [ImageKind::App, ImageKind::Nginx];
const DEFAULT_FAIL_ON_SEVERITY: Severity = Severity::High;
const DEFAULT_SCAN_TIMEOUT_SECONDS: u64 = 600;
const MINIMUM_SCAN_TIMEOUT_SECONDS: u64 = 10;
const MAXIMUM_SCAN_TIMEOUT_SECONDS: u64 = 3600;
const DEFAULT_TRIVY_CACHE_DIR: &str = crate::outputs::TRIVY_CACHE_DIR;
const EXAMPLE_TRIVY_VERSION: &str = "0.76.0";
const EXAMPLE_DB_REPOSITORY: &str = "registry.example.com/trivy-db:2";
const MINIMUM_IGNORE_REASON_CHARACTERS: usize = 10;
const EXAMPLE_EXPIRES: &str = "expires = 2026-12-31";

pub(super) fn resolve_scan(
    origin: Origin<'_>,
    scan: &Spanned<raw::Scan>,
    has_nginx: bool,
) -> Result<Scan, ConfigError> {
    let written = scan.get_ref();

    let trivy_version = written.trivy_version.get_ref();
    if !is_trivy_version(trivy_version) {
        let hint = match trivy_version.strip_prefix('v') {
            Some(bare) if is_trivy_version(bare) => format!("write it without the `v`: \"{bare}\""),
            _ => format!(
                "pin an exact release, MAJOR.MINOR.PATCH, for example \"{EXAMPLE_TRIVY_VERSION}\""
            ),
        };
        return fail(
            origin,
            written.trivy_version.span(),
            "scan.trivy_version",
            format!("`scan.trivy_version` = {trivy_version:?}: not a trivy release number"),
            Some(hint),
        );
    }

    let scanners = match &written.scanners {
        Some(scanners) => resolve_choices(
            origin,
            scanners,
            &ChoiceList {
                key: "scan.scanners",
                noun: "scanner",
                unknown: "not a trivy scanner",
                default: &DEFAULT_SCANNERS,
            },
        )?,
        None => DEFAULT_SCANNERS.to_vec(),
    };

    let images = match &written.images {
        Some(images) => {
            let resolved = resolve_choices(
                origin,
                images,
                &ChoiceList {
                    key: "scan.images",
                    noun: "image",
                    unknown: "not an image Dockyard builds",
                    default: &DEFAULT_SCAN_IMAGES,
                },
            )?;
            let nginx_without_table = images
                .get_ref()
                .iter()
                .enumerate()
                .find(|(_, image)| image.get_ref() == "nginx" && !has_nginx);
            if let Some((index, image)) = nginx_without_table {
                let key = format!("scan.images[{index}]");
                return fail(
                    origin,
                    image.span(),
                    &key,
                    format!("`{key}` = \"nginx\" but there is no [nginx] table"),
                    Some("add an [nginx] table, or leave \"nginx\" out of scan.images".to_owned()),
                );
            }
            resolved
        }
        None => {
            if !has_nginx {
                // Placed at the `[scan]` header: there is no `images` to point at.
                return fail(
                    origin,
                    scan.span(),
                    "scan.images",
                    format!(
                        "`scan.images` defaults to {:?} but there is no [nginx] table",
                        DEFAULT_SCAN_IMAGES.map(ImageKind::as_str)
                    ),
                    Some(
                        "add an [nginx] table, or write images = [\"app\"] to scan the app image \
                         alone"
                            .to_owned(),
                    ),
                );
            }
            DEFAULT_SCAN_IMAGES.to_vec()
        }
    };

    let fail_on_severity = resolve_severity(
        origin,
        written.fail_on_severity.as_ref(),
        "scan.fail_on_severity",
    )?;
    let misconfig_fail_on_severity = resolve_severity(
        origin,
        written.misconfig_fail_on_severity.as_ref(),
        "scan.misconfig_fail_on_severity",
    )?;

    let timeout_seconds = match &written.timeout_seconds {
        Some(seconds) => resolve_in_range(
            origin,
            seconds,
            &RangeUse {
                key: "scan.timeout_seconds",
                unit: "seconds",
                minimum: MINIMUM_SCAN_TIMEOUT_SECONDS,
                maximum: MAXIMUM_SCAN_TIMEOUT_SECONDS,
                default: DEFAULT_SCAN_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_SCAN_TIMEOUT_SECONDS,
    };

    // The cache is trivy's to create, so it need not exist yet.
    let cache_dir = match &written.cache_dir {
        Some(cache_dir) => {
            let relative = resolve_project_relative_path(origin, cache_dir, "scan.cache_dir")?;
            if relative.as_os_str().is_empty() {
                return fail(
                    origin,
                    cache_dir.span(),
                    "scan.cache_dir",
                    format!(
                        "`scan.cache_dir` = {:?}: must name a folder inside the project folder, \
                         not the project folder itself",
                        cache_dir.get_ref()
                    ),
                    Some(format!("for example \"{DEFAULT_TRIVY_CACHE_DIR}\"")),
                );
            }
            origin.root.join(relative)
        }
        None => origin.root.join(DEFAULT_TRIVY_CACHE_DIR),
    };

    let db_repository = match &written.db_repository {
        Some(repository) => {
            let text = repository.get_ref();
            if text.trim().is_empty() {
                return fail(
                    origin,
                    repository.span(),
                    "scan.db_repository",
                    "`scan.db_repository` is empty".to_owned(),
                    Some(format!(
                        "name the repository of trivy's vulnerability database, for example \
                         \"{EXAMPLE_DB_REPOSITORY}\", or leave the key out for trivy's own"
                    )),
                );
            }
            if text.chars().any(char::is_whitespace) {
                return fail(
                    origin,
                    repository.span(),
                    "scan.db_repository",
                    format!("`scan.db_repository` = {text:?}: must not contain whitespace"),
                    Some(format!("for example \"{EXAMPLE_DB_REPOSITORY}\"")),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let skip_db_update = written
        .skip_db_update
        .as_ref()
        .is_some_and(|skip| *skip.get_ref());
    if let (Some(skip), Some(_)) = (&written.skip_db_update, &db_repository) {
        if *skip.get_ref() {
            return fail(
                origin,
                skip.span(),
                "scan.skip_db_update",
                "`scan.skip_db_update` = true: trivy never downloads its database then, so \
                 `scan.db_repository` would never be used"
                    .to_owned(),
                Some(
                    "keep one: `skip_db_update = true` with a database copied into \
                     `scan.cache_dir`, or `db_repository` naming a mirror trivy downloads from"
                        .to_owned(),
                ),
            );
        }
    }

    let written_ignores = written.ignore.as_deref().unwrap_or_default();
    let mut ignores: Vec<ScanIgnore> = Vec::with_capacity(written_ignores.len());
    for (index, entry) in written_ignores.iter().enumerate() {
        let table = format!("scan.ignore[{index}]");
        let ignore = resolve_scan_ignore(origin, &table, entry.get_ref())?;
        let first_with_that_scope = ignores.iter().position(|earlier| {
            earlier.id == ignore.id
                && earlier.image == ignore.image
                && earlier.package == ignore.package
                && earlier.path == ignore.path
        });
        if let Some(first) = first_with_that_scope {
            let (first_line, _) = line_and_column(
                origin.source.text,
                written_ignores[first].get_ref().id.span().start,
            );
            let key = format!("{table}.id");
            return fail(
                origin,
                entry.get_ref().id.span(),
                &key,
                format!(
                    "`{key}` = {:?}: another entry already ignores this id with the same image, \
                     package and path",
                    ignore.id
                ),
                Some(format!(
                    "the first entry ignoring {:?} is on line {first_line}; keep one of the two",
                    ignore.id
                )),
            );
        }
        ignores.push(ignore);
    }

    Ok(Scan {
        trivy_version: trivy_version.clone(),
        scanners,
        images,
        fail_on_severity,
        ignore_unfixed: written
            .ignore_unfixed
            .as_ref()
            .is_some_and(|ignore_unfixed| *ignore_unfixed.get_ref()),
        misconfig_fail_on_severity,
        timeout_seconds,
        cache_dir,
        db_repository,
        skip_db_update,
        ignores,
    })
}

/// Which closed list of names a list check is about, to word its messages.
struct ChoiceList<'a, T> {
    /// The full key of the list, for example `scan.scanners`.
    key: &'a str,
    /// What one name is, for example `scanner`.
    noun: &'a str,
    /// What an unknown name is not, for example `not a trivy scanner`.
    unknown: &'a str,
    /// The list used when the key is left out.
    default: &'a [T],
}

/// A non-empty list of names of the closed set `T`, each listed once, in the file's order.
fn resolve_choices<T: ClosedSet>(
    origin: Origin<'_>,
    list: &raw::SpannedStrings,
    choice_list: &ChoiceList<'_, T>,
) -> Result<Vec<T>, ConfigError> {
    let ChoiceList {
        key: list_key,
        noun,
        unknown,
        default,
    } = choice_list;
    let all = render_backticked_list(T::NAMES);
    if list.get_ref().is_empty() {
        let default: Vec<&str> = default.iter().map(|value| value.as_str()).collect();
        return fail(
            origin,
            list.span(),
            list_key,
            format!("`{list_key}` is empty"),
            Some(format!(
                "the {noun}s are {all}; list at least one, or leave the key out for the default \
                 {default:?}"
            )),
        );
    }
    let mut resolved: Vec<T> = Vec::with_capacity(list.get_ref().len());
    for (index, name) in list.get_ref().iter().enumerate() {
        let key = format!("{list_key}[{index}]");
        let text = name.get_ref();
        let Some(value) = T::from_name(text) else {
            let hint = match closest_candidate(text, T::NAMES.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`? the {noun}s are {all}"),
                None => format!("the {noun}s are {all}"),
            };
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}` = {text:?}: {unknown}"),
                Some(hint),
            );
        };
        if let Some(first) = resolved.iter().position(|earlier| *earlier == value) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}` = {text:?}: already listed as `{list_key}[{first}]`"),
                Some(format!("list each {noun} once")),
            );
        }
        resolved.push(value);
    }
    Ok(resolved)
}

/// A trivy severity, in any case; `HIGH` when not written.
fn resolve_severity(
    origin: Origin<'_>,
    severity: Option<&Spanned<String>>,
    key: &str,
) -> Result<Severity, ConfigError> {
    let Some(severity) = severity else {
        return Ok(DEFAULT_FAIL_ON_SEVERITY);
    };
    let text = severity.get_ref();
    if let Some(resolved) = Severity::from_name_ignoring_case(text) {
        return Ok(resolved);
    }
    let all = render_backticked_list(Severity::NAMES);
    let hint = match closest_candidate(text, Severity::NAMES.iter().copied()) {
        Some(suggestion) => {
            format!("did you mean `{suggestion}`? the severities are {all}, lowest first")
        }
        None => format!("the severities are {all}, lowest first"),
    };
    fail(
        origin,
        severity.span(),
        key,
        format!("`{key}` = {text:?}: not a trivy severity"),
        Some(hint),
    )
}

fn resolve_scan_ignore(
    origin: Origin<'_>,
    table: &str,
    ignore: &raw::ScanIgnore,
) -> Result<ScanIgnore, ConfigError> {
    let id = ignore.id.get_ref();
    if id.trim().is_empty() {
        let key = format!("{table}.id");
        return fail(
            origin,
            ignore.id.span(),
            &key,
            format!("`{key}` is empty"),
            Some(
                "write the id of the finding to accept, for example \"CVE-2019-18276\"".to_owned(),
            ),
        );
    }
    if id.chars().any(char::is_whitespace) {
        let key = format!("{table}.id");
        return fail(
            origin,
            ignore.id.span(),
            &key,
            format!("`{key}` = {id:?}: must not contain whitespace"),
            Some(
                "write one [[scan.ignore]] entry for each id, for example \"CVE-2019-18276\""
                    .to_owned(),
            ),
        );
    }

    let reason = ignore.reason.get_ref();
    if reason.trim().chars().count() < MINIMUM_IGNORE_REASON_CHARACTERS {
        let key = format!("{table}.reason");
        return fail(
            origin,
            ignore.reason.span(),
            &key,
            format!(
                "`{key}` = {reason:?}: say why the risk is accepted, in at least \
                 {MINIMUM_IGNORE_REASON_CHARACTERS} characters"
            ),
            Some(
                "the reason is what the next reviewer reads, for example \"bash is not reachable \
                 from the app\""
                    .to_owned(),
            ),
        );
    }

    let expires = resolve_expiry_date(origin, table, &ignore.expires)?;

    let image = match &ignore.image {
        Some(image) => {
            let text = image.get_ref();
            let Some(kind) = ImageKind::from_name(text) else {
                let key = format!("{table}.image");
                let all = render_backticked_list(ImageKind::NAMES);
                let hint = match closest_candidate(text, ImageKind::NAMES.iter().copied()) {
                    Some(suggestion) => format!("did you mean `{suggestion}`? the images are {all}"),
                    None => format!(
                        "the images are {all}; leave the key out to accept the finding in every image"
                    ),
                };
                return fail(
                    origin,
                    image.span(),
                    &key,
                    format!("`{key}` = {text:?}: not an image Dockyard builds"),
                    Some(hint),
                );
            };
            Some(kind)
        }
        None => None,
    };

    let package = match &ignore.package {
        Some(package) => {
            let text = package.get_ref();
            if !is_package_url_prefix(text) {
                let key = format!("{table}.package");
                return fail(
                    origin,
                    package.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a package URL"),
                    Some(
                        "write a package URL or the start of one, without whitespace, for example \
                         \"pkg:deb/debian/bash\""
                            .to_owned(),
                    ),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let path = match &ignore.path {
        Some(path) => {
            if path.get_ref().trim().is_empty() {
                let key = format!("{table}.path");
                return fail(
                    origin,
                    path.span(),
                    &key,
                    format!("`{key}` is empty"),
                    Some(
                        "write the path the finding is in, or leave the key out to accept it in \
                         any path"
                            .to_owned(),
                    ),
                );
            }
            Some(path.get_ref().clone())
        }
        None => None,
    };

    Ok(ScanIgnore {
        id: id.clone(),
        reason: reason.clone(),
        expires,
        image,
        package,
        path,
    })
}

/// `expires` as `YYYY-MM-DD`: a TOML local date, or a string holding one; a real day either way.
///
/// Whether the day has passed is not checked here: that depends on the day of the scan, and an
/// expired entry is for the scan gate to report, not for the config to refuse.
fn resolve_expiry_date(
    origin: Origin<'_>,
    table: &str,
    expires: &Spanned<toml::Value>,
) -> Result<jiff::civil::Date, ConfigError> {
    let key = format!("{table}.expires");
    let example =
        format!("write the last day the entry applies as a TOML date: `{EXAMPLE_EXPIRES}`");
    match expires.get_ref() {
        toml::Value::Datetime(datetime) => match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => match real_day(date.year, date.month, date.day) {
                Some(day) => Ok(day),
                None => fail(
                    origin,
                    expires.span(),
                    &key,
                    format!("`{key}` = {datetime}: there is no such day"),
                    Some(example),
                ),
            },
            (Some(date), _, _) => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {datetime}: must be a date alone, without a time of day"),
                Some(format!(
                    "write the date alone: `expires = {:04}-{:02}-{:02}`",
                    date.year, date.month, date.day
                )),
            ),
            (None, _, _) => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {datetime}: a time of day, not a date"),
                Some(example),
            ),
        },
        toml::Value::String(text) => match split_iso_date(text) {
            Some((year, month, day)) => match real_day(year, month, day) {
                Some(day) => Ok(day),
                None => fail(
                    origin,
                    expires.span(),
                    &key,
                    format!("`{key}` = {text:?}: there is no such day"),
                    Some(example),
                ),
            },
            None => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {text:?}: not a date"),
                Some(example),
            ),
        },
        other => fail(
            origin,
            expires.span(),
            &key,
            format!(
                "`{key}` must be a date, found {}",
                toml_value_kind(other).with_article()
            ),
            Some(example),
        ),
    }
}

fn toml_value_kind(value: &toml::Value) -> ValueKind {
    match value {
        toml::Value::String(_) => ValueKind::String,
        toml::Value::Integer(_) => ValueKind::Integer,
        toml::Value::Float(_) => ValueKind::Float,
        toml::Value::Boolean(_) => ValueKind::Boolean,
        toml::Value::Datetime(_) => ValueKind::Datetime,
        toml::Value::Array(_) => ValueKind::Array,
        toml::Value::Table(_) => ValueKind::Table,
    }
}
