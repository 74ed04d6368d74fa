//! Declared HTTP checks: what a check expects, and the mismatches between that and a response.

use dockyard_config::{Smoke, SmokeCheck};
use serde::Serialize;

use crate::http::{HttpRequest, HttpResponse, Method};
use crate::{CheckResult, HttpError};

/// The status a check declares to mean "the server closes the connection without answering":
/// nginx's `return 444` sends nothing, so a client sees [`HttpError::NoResponse`], never a 444.
pub const NO_RESPONSE_STATUS: u16 = 444;

/// The group of the results [`http_check_result`] makes: the checks deploy.toml declares.
pub const DECLARED_CHECK_GROUP: &str = "declared";

/// The longest `actual` text a [`Mismatch`] carries, in characters.
pub const MAX_ACTUAL_CHARS: usize = 200;

/// One way a response differs from what a [`SmokeCheck`] expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// What was compared: `status`, `json`, `json checks.database`, `header content-type`, `body`.
    pub what: String,
    /// What the check expected.
    pub expected: String,
    /// What the response had, at most [`MAX_ACTUAL_CHARS`] characters.
    pub actual: String,
}

/// The request a check sends: its method, path and host (or `[smoke] host`), the headers of every smoke request
/// ([`smoke_headers`]), no body.
pub fn http_request_for_check(spec: &SmokeCheck, smoke: &Smoke) -> HttpRequest {
    HttpRequest {
        method: method_of(spec),
        path: spec.path.clone(),
        host: spec.host.clone().unwrap_or_else(|| smoke.host.clone()),
        headers: smoke_headers(smoke),
        body: Vec::new(),
    }
}

/// A `GET` of `path` as smoke sends every request to the app: `Host: [smoke] host` and [`smoke_headers`].
pub fn smoke_get(smoke: &Smoke, path: &str) -> HttpRequest {
    let mut request = HttpRequest::get(path, &smoke.host);
    request.headers = smoke_headers(smoke);
    request
}

/// The headers of every smoke request to the app: `X-Forwarded-Proto` as the TLS terminator in front of nginx sets
/// it (`https` unless `[smoke] https = false`), so an app with `SECURE_SSL_REDIRECT` answers instead of redirecting.
pub fn smoke_headers(smoke: &Smoke) -> Vec<(String, String)> {
    let scheme = if smoke.https { "https" } else { "http" };
    vec![("X-Forwarded-Proto".to_owned(), scheme.to_owned())]
}

/// The check's method as the client sends it. deploy.toml allows `GET`, `HEAD` and `POST` only.
// The one place that reads the method's string: it becomes a match on dockyard-config's enum when there is one.
fn method_of(spec: &SmokeCheck) -> Method {
    match spec.method {
        dockyard_config::HttpMethod::Head => Method::HEAD,
        dockyard_config::HttpMethod::Post => Method::POST,
        dockyard_config::HttpMethod::Get => Method::GET,
    }
}

/// Every difference between `response` and what `spec` expects; empty means the check passed.
///
/// Order: status, then JSON paths, headers (both sorted by name), then body substrings in the
/// order declared. A body that is not JSON while JSON paths are declared gives one `json`
/// mismatch instead of one per path.
pub fn evaluate(spec: &SmokeCheck, response: &HttpResponse) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    if response.status != spec.status {
        let expected = if spec.status == NO_RESPONSE_STATUS {
            "no response".to_string()
        } else {
            spec.status.to_string()
        };
        mismatches.push(mismatch("status", expected, &response.status.to_string()));
    }

    if !spec.json.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&response.body) {
            Ok(document) => {
                for (dotted_path, expected) in &spec.json {
                    let (found, actual) = match json_lookup(&document, dotted_path) {
                        Some(value) => (true, json_value_as_text(value)),
                        None => (false, "missing".to_string()),
                    };
                    if !found || actual != *expected {
                        mismatches.push(mismatch(
                            &format!("json {dotted_path}"),
                            expected.clone(),
                            &actual,
                        ));
                    }
                }
            }
            Err(_) => mismatches.push(mismatch(
                "json",
                "a JSON body".to_string(),
                &response.body_text(),
            )),
        }
    }

    for (name, expected_substring) in &spec.headers {
        let what = format!("header {}", name.to_ascii_lowercase());
        match response.header(name) {
            Some(value) if value.contains(expected_substring.as_str()) => {}
            Some(value) => mismatches.push(mismatch(
                &what,
                format!("contains {expected_substring:?}"),
                value,
            )),
            None => mismatches.push(mismatch(
                &what,
                format!("contains {expected_substring:?}"),
                "missing",
            )),
        }
    }

    if !spec.body_contains.is_empty() {
        let body = response.body_text();
        for expected_substring in &spec.body_contains {
            if !body.contains(expected_substring.as_str()) {
                mismatches.push(mismatch(
                    "body",
                    format!("contains {expected_substring:?}"),
                    &body,
                ));
            }
        }
    }
    mismatches
}

/// The report line for one HTTP check, from what [`crate::http::send`] returned.
///
/// A response passes when [`evaluate`] finds no mismatch; `actual` then says the status, and on
/// failure lists each mismatch as `what: value`. An error fails the check with the error as
/// `actual` and its hint as `detail`, except [`HttpError::NoResponse`] for a check that
/// declares status [`NO_RESPONSE_STATUS`], which passes.
pub fn http_check_result(
    spec: &SmokeCheck,
    outcome: &Result<HttpResponse, HttpError>,
    duration_ms: u64,
) -> CheckResult {
    let expected = describe_expectations(spec);
    let (passed, actual, detail) = match outcome {
        Ok(response) => {
            let mismatches = evaluate(spec, response);
            if mismatches.is_empty() {
                (true, format!("status: {}", response.status), String::new())
            } else {
                let actual = mismatches
                    .iter()
                    .map(|mismatch| format!("{}: {}", mismatch.what, mismatch.actual))
                    .collect::<Vec<_>>()
                    .join("; ");
                (false, actual, String::new())
            }
        }
        Err(HttpError::NoResponse { .. }) if spec.status == NO_RESPONSE_STATUS => {
            (true, "no response".to_string(), String::new())
        }
        Err(error) => (
            false,
            truncate_for_report(&error.to_string()),
            error.hint().unwrap_or_default(),
        ),
    };
    CheckResult {
        group: DECLARED_CHECK_GROUP.to_string(),
        name: spec.name.clone(),
        passed,
        duration_ms,
        expected,
        actual,
        detail,
    }
}

/// Everything `spec` expects, as `what: value` fragments joined by `; `, e.g.
/// `status: 200; json status: ok; header cache-control: contains "immutable"`.
/// Status [`NO_RESPONSE_STATUS`] reads `no response`.
pub fn describe_expectations(spec: &SmokeCheck) -> String {
    let mut parts = vec![if spec.status == NO_RESPONSE_STATUS {
        "no response".to_string()
    } else {
        format!("status: {}", spec.status)
    }];
    for (dotted_path, expected) in &spec.json {
        parts.push(format!("json {dotted_path}: {expected}"));
    }
    for (name, expected_substring) in &spec.headers {
        parts.push(format!(
            "header {}: contains {expected_substring:?}",
            name.to_ascii_lowercase()
        ));
    }
    for expected_substring in &spec.body_contains {
        parts.push(format!("body: contains {expected_substring:?}"));
    }
    parts.join("; ")
}

/// The value at a dotted path: `checks.database`, with array indexes as numbers (`items.0.name`).
///
/// The empty path is the whole document. An object key that looks like a number is found too
/// (`{"0": ...}` answers `0`); keys containing dots cannot be addressed.
pub fn json_lookup<'a>(
    value: &'a serde_json::Value,
    dotted_path: &str,
) -> Option<&'a serde_json::Value> {
    if dotted_path.is_empty() {
        return Some(value);
    }
    dotted_path
        .split('.')
        .try_fold(value, |current, segment| match current {
            serde_json::Value::Object(object) => object.get(segment),
            serde_json::Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index)),
            _ => None,
        })
}

/// The string form a JSON expectation compares with: strings without quotes, everything else as
/// compact JSON text (`42`, `true`, `null`, `{"a":1}`).
pub fn json_value_as_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `text` cut to [`MAX_ACTUAL_CHARS`] characters, the last one replaced by `…` when it was cut.
pub fn truncate_for_report(text: &str) -> String {
    if text.chars().count() <= MAX_ACTUAL_CHARS {
        return text.to_string();
    }
    let mut truncated: String = text.chars().take(MAX_ACTUAL_CHARS - 1).collect();
    truncated.push('…');
    truncated
}

fn mismatch(what: &str, expected: String, actual: &str) -> Mismatch {
    Mismatch {
        what: what.to_string(),
        expected,
        actual: truncate_for_report(actual),
    }
}
