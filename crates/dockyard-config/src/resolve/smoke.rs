//! `[smoke]` and its `[[smoke.check]]` entries.

use std::collections::BTreeMap;

use toml::Spanned;

use super::numbers::{resolve_in_range, RangeUse};
use super::{fail, Origin};
use crate::choices::{HttpMethod, Via};
use crate::error::{line_and_column, ConfigError};
use crate::model::{Smoke, SmokeCheck};
use crate::names::{is_dotted_json_path, is_valid_host_header, is_valid_http_header_name};
use crate::raw;
use crate::source_map::render_key;
use crate::suggestions::{closest_candidate, render_backticked_list};

const DEFAULT_STARTUP_TIMEOUT_SECONDS: u64 = 60;
const MAXIMUM_STARTUP_TIMEOUT_SECONDS: u64 = 600;
const DEFAULT_STOP_TIMEOUT_SECONDS: u64 = 10;
const MAXIMUM_STOP_TIMEOUT_SECONDS: u64 = 120;
const DEFAULT_CHECK_STATUS: u16 = 200;
const DEFAULT_CHECK_METHOD: HttpMethod = HttpMethod::Get;
/// The `Host` of smoke's requests without `smoke.host` and without `[nginx]`.
const DEFAULT_HOST: &str = "localhost";
/// The page the static check renders without `smoke.page`.
const DEFAULT_PAGE: &str = "/";

pub(super) fn resolve_smoke(
    origin: Origin<'_>,
    smoke: Option<&raw::Smoke>,
    server_names: Option<&[String]>,
) -> Result<Smoke, ConfigError> {
    let has_nginx = server_names.is_some();
    let default_host = server_names
        .and_then(|names| names.first().cloned())
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let Some(smoke) = smoke else {
        return Ok(Smoke {
            startup_timeout_seconds: DEFAULT_STARTUP_TIMEOUT_SECONDS,
            stop_timeout_seconds: DEFAULT_STOP_TIMEOUT_SECONDS,
            app_size_budget_mb: None,
            nginx_size_budget_mb: None,
            host: default_host,
            page: DEFAULT_PAGE.to_owned(),
            https: true,
            deploy_checks: true,
            silence: BTreeMap::new(),
            checks: Vec::new(),
        });
    };
    let host = match &smoke.host {
        Some(host) => {
            let text = host.get_ref();
            if !is_valid_host_header(text) {
                return fail(
                    origin,
                    host.span(),
                    "smoke.host",
                    format!("`smoke.host` = {text:?}: not a Host header value"),
                    Some(
                        "write a host name the app's ALLOWED_HOSTS accepts, optionally with a port, for \
                         example \"localhost\" or \"example.com\""
                            .to_owned(),
                    ),
                );
            }
            text.clone()
        }
        None => default_host,
    };
    let page = match &smoke.page {
        Some(page) => super::resolve_http_path(origin, page, "smoke.page")?,
        None => DEFAULT_PAGE.to_owned(),
    };
    let startup_timeout_seconds = match &smoke.startup_timeout_seconds {
        Some(seconds) => resolve_in_range(
            origin,
            seconds,
            &RangeUse {
                key: "smoke.startup_timeout_seconds",
                unit: "seconds",
                minimum: 1,
                maximum: MAXIMUM_STARTUP_TIMEOUT_SECONDS,
                default: DEFAULT_STARTUP_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_STARTUP_TIMEOUT_SECONDS,
    };
    let stop_timeout_seconds = match &smoke.stop_timeout_seconds {
        Some(seconds) => resolve_in_range(
            origin,
            seconds,
            &RangeUse {
                key: "smoke.stop_timeout_seconds",
                unit: "seconds",
                minimum: 1,
                maximum: MAXIMUM_STOP_TIMEOUT_SECONDS,
                default: DEFAULT_STOP_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_STOP_TIMEOUT_SECONDS,
    };
    let app_size_budget_mb = match &smoke.app_size_budget_mb {
        Some(budget) => Some(resolve_size_budget(
            origin,
            budget,
            "smoke.app_size_budget_mb",
        )?),
        None => None,
    };
    let nginx_size_budget_mb = match &smoke.nginx_size_budget_mb {
        Some(budget) => Some(resolve_size_budget(
            origin,
            budget,
            "smoke.nginx_size_budget_mb",
        )?),
        None => None,
    };

    let silence = match &smoke.silence {
        Some(silence) => resolve_silence(origin, silence)?,
        None => BTreeMap::new(),
    };

    let written_checks = smoke.check.as_deref().unwrap_or_default();
    let mut checks: Vec<SmokeCheck> = Vec::with_capacity(written_checks.len());
    for (index, check) in written_checks.iter().enumerate() {
        let table = format!("smoke.check[{index}]");
        let name = check.get_ref().name.get_ref();
        let first_with_that_name = written_checks[..index]
            .iter()
            .find(|earlier| earlier.get_ref().name.get_ref() == name);
        if let Some(first) = first_with_that_name {
            let (first_line, _) =
                line_and_column(origin.source.text, first.get_ref().name.span().start);
            let key = format!("{table}.name");
            return fail(
                origin,
                check.get_ref().name.span(),
                &key,
                format!("`{key}` = {name:?}: another check already has this name"),
                Some(format!(
                    "the first check named {name:?} is on line {first_line}; give each check its \
                     own name"
                )),
            );
        }
        checks.push(resolve_smoke_check(origin, &table, check, has_nginx)?);
    }

    Ok(Smoke {
        startup_timeout_seconds,
        stop_timeout_seconds,
        app_size_budget_mb,
        nginx_size_budget_mb,
        host,
        page,
        https: smoke.https.unwrap_or(true),
        deploy_checks: smoke.deploy_checks.unwrap_or(true),
        silence,
        checks,
    })
}

/// `[smoke.silence]`: Django system check ids (`security.W008`), each with a reason that is not empty.
fn resolve_silence(
    origin: Origin<'_>,
    silence: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved = BTreeMap::new();
    let mut entries: Vec<_> = silence.iter().collect();
    entries.sort_by_key(|(id, _)| id.span().start);
    for (id, reason) in entries {
        let text = id.get_ref();
        let key = format!("smoke.silence.{}", render_key(text));
        if !is_system_check_id(text) {
            return fail(
                origin,
                id.span(),
                &key,
                format!("`{key}`: not a Django system check id"),
                Some(
                    "write the id `manage.py check --deploy` prints, such as \"security.W008\""
                        .to_owned(),
                ),
            );
        }
        if reason.get_ref().trim().is_empty() {
            return fail(
                origin,
                reason.span(),
                &key,
                format!("`{key}` has no reason"),
                Some(
                    "say why the warning does not apply, for example \"TLS ends at the load balancer, which \
                     redirects http\""
                        .to_owned(),
                ),
            );
        }
        resolved.insert(text.clone(), reason.get_ref().clone());
    }
    Ok(resolved)
}

/// A Django system check id: dotted lowercase words, then a level letter and digits (`security.W008`, `fields.E304`).
fn is_system_check_id(text: &str) -> bool {
    let Some((tag, code)) = text.rsplit_once('.') else {
        return false;
    };
    let mut code_chars = code.chars();
    !tag.is_empty()
        && tag.split('.').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        && code_chars
            .next()
            .is_some_and(|level| "CEWI".contains(level))
        && code.len() >= 2
        && code_chars.all(|c| c.is_ascii_digit())
}

fn resolve_size_budget(
    origin: Origin<'_>,
    budget: &Spanned<i64>,
    key: &str,
) -> Result<u64, ConfigError> {
    let value = *budget.get_ref();
    match u64::try_from(value) {
        Ok(valid) if valid > 0 => Ok(valid),
        _ => fail(
            origin,
            budget.span(),
            key,
            format!("`{key}` = {value}: must be a positive number of megabytes"),
            Some("leave the key out for no size budget".to_owned()),
        ),
    }
}

fn resolve_smoke_check(
    origin: Origin<'_>,
    table: &str,
    check: &Spanned<raw::SmokeCheck>,
    has_nginx: bool,
) -> Result<SmokeCheck, ConfigError> {
    let written = check.get_ref();

    let name = written.name.get_ref();
    if name.trim().is_empty() {
        let key = format!("{table}.name");
        return fail(
            origin,
            written.name.span(),
            &key,
            format!("`{key}` is empty"),
            Some("name the check, for example \"health through nginx\"".to_owned()),
        );
    }

    let path = &super::resolve_http_path(origin, &written.path, &format!("{table}.path"))?;

    let via = resolve_via(origin, table, check, has_nginx)?;

    let method = match &written.method {
        Some(method) => {
            let text = method.get_ref();
            let Some(resolved) = HttpMethod::from_name(text) else {
                let key = format!("{table}.method");
                let all = render_backticked_list(HttpMethod::NAMES);
                let hint = match closest_candidate(text, HttpMethod::NAMES.iter().copied()) {
                    Some(suggestion) => {
                        format!("did you mean `{suggestion}`? the methods are {all}")
                    }
                    None => format!("the methods are {all}"),
                };
                return fail(
                    origin,
                    method.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a method smoke checks send"),
                    Some(hint),
                );
            };
            resolved
        }
        None => DEFAULT_CHECK_METHOD,
    };

    let status = match &written.status {
        Some(status) => {
            let value = *status.get_ref();
            match u16::try_from(value) {
                Ok(valid) if (100..=599).contains(&valid) => valid,
                _ => {
                    let key = format!("{table}.status");
                    return fail(
                        origin,
                        status.span(),
                        &key,
                        format!("`{key}` = {value}: not an HTTP status code"),
                        Some(format!(
                            "use a status from 100 to 599, for example {DEFAULT_CHECK_STATUS}"
                        )),
                    );
                }
            }
        }
        None => DEFAULT_CHECK_STATUS,
    };

    let host = match &written.host {
        Some(host) => {
            let text = host.get_ref();
            if !is_valid_host_header(text) {
                let key = format!("{table}.host");
                return fail(
                    origin,
                    host.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a Host header value"),
                    Some(
                        "write a host name, optionally with a port, for example \"localhost\" \
                         or \"example.com:8080\""
                            .to_owned(),
                    ),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let json = match &written.json {
        Some(json) => resolve_json_expectations(origin, table, json)?,
        None => BTreeMap::new(),
    };
    let headers = match &written.headers {
        Some(headers) => resolve_header_expectations(origin, table, headers)?,
        None => BTreeMap::new(),
    };

    let mut body_contains = Vec::new();
    if let Some(substrings) = &written.body_contains {
        for (index, substring) in substrings.get_ref().iter().enumerate() {
            if substring.get_ref().is_empty() {
                let key = format!("{table}.body_contains[{index}]");
                return fail(
                    origin,
                    substring.span(),
                    &key,
                    format!("`{key}` is empty"),
                    Some("an empty string is in every body; write the text to look for".to_owned()),
                );
            }
            body_contains.push(substring.get_ref().clone());
        }
    }

    Ok(SmokeCheck {
        name: name.clone(),
        path: path.clone(),
        via,
        method,
        status,
        host,
        json,
        headers,
        body_contains,
    })
}

fn resolve_via(
    origin: Origin<'_>,
    table: &str,
    check: &Spanned<raw::SmokeCheck>,
    has_nginx: bool,
) -> Result<Via, ConfigError> {
    let key = format!("{table}.via");
    let Some(written) = &check.get_ref().via else {
        if has_nginx {
            return Ok(Via::Nginx);
        }
        // Placed at the check's `[[smoke.check]]` header: there is no `via` to point at.
        return fail(
            origin,
            check.span(),
            &key,
            format!(
                "`{key}` defaults to \"nginx\" but there is no [nginx] table"
            ),
            Some("add an [nginx] table, or write via = \"app\" to send the request straight to the app".to_owned()),
        );
    };
    let text = written.get_ref();
    let Some(via) = Via::from_name(text) else {
        let all = render_backticked_list(Via::NAMES);
        let hint = match closest_candidate(text, Via::NAMES.iter().copied()) {
            Some(suggestion) => format!("did you mean `{suggestion}`? `via` takes {all}"),
            None => format!("`via` takes {all}"),
        };
        return fail(
            origin,
            written.span(),
            &key,
            format!("`{key}` = {text:?}: not a container smoke checks can reach"),
            Some(hint),
        );
    };
    if via == Via::Nginx && !has_nginx {
        return fail(
            origin,
            written.span(),
            &key,
            format!("`{key}` = \"nginx\" but there is no [nginx] table"),
            Some("add an [nginx] table, or write via = \"app\" to send the request straight to the app".to_owned()),
        );
    }
    Ok(via)
}

fn resolve_json_expectations(
    origin: Origin<'_>,
    table: &str,
    json: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved = BTreeMap::new();
    let mut entries: Vec<_> = json.iter().collect();
    entries.sort_by_key(|(path, _)| path.span().start);
    for (path, expected) in entries {
        if !is_dotted_json_path(path.get_ref()) {
            let key = format!("{table}.json.{}", render_key(path.get_ref()));
            return fail(
                origin,
                path.span(),
                &key,
                format!("`{key}`: not a dotted path into the JSON body"),
                Some(
                    "name a value by its keys joined with `.`, for example \"checks.database\""
                        .to_owned(),
                ),
            );
        }
        resolved.insert(path.get_ref().clone(), expected.get_ref().clone());
    }
    Ok(resolved)
}

fn resolve_header_expectations(
    origin: Origin<'_>,
    table: &str,
    headers: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved: BTreeMap<String, String> = BTreeMap::new();
    let mut entries: Vec<_> = headers.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let mut first_spelling: BTreeMap<String, &str> = BTreeMap::new();
    for (name, expected) in entries {
        let key = format!("{table}.headers.{}", render_key(name.get_ref()));
        if !is_valid_http_header_name(name.get_ref()) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: not an HTTP header name"),
                Some("use letters, digits and `-`, for example \"content-type\"".to_owned()),
            );
        }
        let lowercase = name.get_ref().to_ascii_lowercase();
        if let Some(first) = first_spelling.get(&lowercase) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: the header is already listed as `{first}`"),
                Some("header names are case-insensitive; list each header once".to_owned()),
            );
        }
        first_spelling.insert(lowercase.clone(), name.get_ref());
        resolved.insert(lowercase, expected.get_ref().clone());
    }
    Ok(resolved)
}
