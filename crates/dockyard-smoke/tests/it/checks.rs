//! Evaluating declared HTTP checks: status, JSON paths, headers and body substrings, and the report line.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use dockyard_config::{SmokeCheck, Via};
use dockyard_smoke::checks::{
    describe_expectations, evaluate, http_check_result, http_request_for_check, json_lookup,
    json_value_as_text, truncate_for_report, MAX_ACTUAL_CHARS,
};
use dockyard_smoke::{HttpError, HttpResponse};
use serde_json::json;

fn spec(status: u16) -> SmokeCheck {
    SmokeCheck {
        name: "health through nginx".to_string(),
        path: "/health/".to_string(),
        via: Via::Nginx,
        method: dockyard_config::HttpMethod::Get,
        status,
        host: None,
        json: BTreeMap::new(),
        headers: BTreeMap::new(),
        body_contains: Vec::new(),
    }
}

fn with_json(mut spec: SmokeCheck, pairs: &[(&str, &str)]) -> SmokeCheck {
    spec.json = pairs
        .iter()
        .map(|(path, value)| (path.to_string(), value.to_string()))
        .collect();
    spec
}

fn with_headers(mut spec: SmokeCheck, pairs: &[(&str, &str)]) -> SmokeCheck {
    spec.headers = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    spec
}

fn with_body(mut spec: SmokeCheck, substrings: &[&str]) -> SmokeCheck {
    spec.body_contains = substrings.iter().map(|text| text.to_string()).collect();
    spec
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

const HEALTHY: &str = r#"{"status": "ok", "checks": {"database": "ok", "cache": "ok"}, "workers": 4, "debug": false, "items": [{"name": "first"}]}"#;

/// Renders `name`, then `pass` or one line per mismatch.
fn check(name: &str, spec: &SmokeCheck, response: &HttpResponse) -> String {
    let mismatches = evaluate(spec, response);
    if mismatches.is_empty() {
        return format!("== {name}\npass\n");
    }
    let mut rendered = format!("== {name}\n");
    for mismatch in mismatches {
        rendered.push_str(&format!(
            "{}: expected {:?}, actual {:?}\n",
            mismatch.what, mismatch.expected, mismatch.actual
        ));
    }
    rendered
}

#[test]
fn evaluations() {
    let json_ok = response(200, &[("content-type", "application/json")], HEALTHY);
    let cases = [
        check("status matches", &spec(200), &json_ok),
        check("status differs", &spec(200), &response(503, &[], "")),
        check(
            "json values by string form",
            &with_json(
                spec(200),
                &[
                    ("status", "ok"),
                    ("checks.database", "ok"),
                    ("workers", "4"),
                    ("debug", "false"),
                    ("items.0.name", "first"),
                ],
            ),
            &json_ok,
        ),
        check(
            "json value differs and path missing",
            &with_json(
                spec(200),
                &[
                    ("checks.database", "error"),
                    ("checks.queue", "ok"),
                    ("workers", "\"4\""),
                ],
            ),
            &json_ok,
        ),
        check(
            "json checks on a non-json body give one mismatch",
            &with_json(spec(200), &[("status", "ok"), ("checks.database", "ok")]),
            &response(502, &[], "<html><body>502 Bad Gateway</body></html>"),
        ),
        check(
            "json checks on an empty body",
            &with_json(spec(200), &[("status", "ok")]),
            &response(200, &[], ""),
        ),
        check(
            "headers: any-case names, case-sensitive substrings",
            &with_headers(
                spec(200),
                &[
                    ("Cache-Control", "immutable"),
                    ("content-type", "json"),
                    ("VARY", "Accept-Encoding"),
                ],
            ),
            &response(
                200,
                &[
                    ("cache-control", "public, max-age=31536000, immutable"),
                    ("content-type", "application/json"),
                    ("vary", "Accept-Encoding"),
                ],
                "",
            ),
        ),
        check(
            "header missing or different",
            &with_headers(
                spec(200),
                &[("Cache-Control", "Immutable"), ("content-encoding", "gzip")],
            ),
            &response(
                200,
                &[("cache-control", "public, max-age=31536000, immutable")],
                "",
            ),
        ),
        check(
            "body substrings",
            &with_body(spec(200), &[">Notes<", "csrfmiddlewaretoken", "Traceback"]),
            &response(200, &[], "<title>Notes</title><h1>Notes</h1>"),
        ),
        check(
            "everything wrong at once",
            &with_body(
                with_headers(
                    with_json(spec(200), &[("status", "ok")]),
                    &[("server", "nginx")],
                ),
                &["ok"],
            ),
            &response(500, &[("server", "gunicorn")], "Internal Server Error"),
        ),
        check(
            "444 expects no response",
            &spec(444),
            &response(200, &[], ""),
        ),
    ];
    insta::assert_snapshot!(cases.concat());
}

#[test]
fn actual_values_are_truncated_to_200_characters() {
    let long_body = "é".repeat(500);
    let mismatches = evaluate(
        &with_body(spec(200), &["absent"]),
        &response(200, &[], &long_body),
    );
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].actual.chars().count(), MAX_ACTUAL_CHARS);
    assert!(mismatches[0].actual.ends_with('…'));

    assert_eq!(truncate_for_report("short"), "short");
    let exactly = "x".repeat(MAX_ACTUAL_CHARS);
    assert_eq!(truncate_for_report(&exactly), exactly);
}

fn check_lookup(dotted_path: &str, expected: Option<&str>) {
    let document = json!({
        "status": "ok",
        "checks": {"database": "ok", "cache": {"latency_ms": 3}},
        "items": [{"name": "first"}, {"name": "second", "tags": ["a", "b"]}],
        "0": "object key that looks like an index",
        "nothing": null,
    });
    let actual = json_lookup(&document, dotted_path).map(json_value_as_text);
    assert_eq!(actual.as_deref(), expected, "path {dotted_path:?}");
}

#[test]
fn json_lookups() {
    check_lookup("status", Some("ok"));
    check_lookup("checks.database", Some("ok"));
    check_lookup("checks.cache", Some(r#"{"latency_ms":3}"#));
    check_lookup("checks.cache.latency_ms", Some("3"));
    check_lookup("items.0.name", Some("first"));
    check_lookup("items.1.tags.1", Some("b"));
    check_lookup("items.1.tags", Some(r#"["a","b"]"#));
    check_lookup("0", Some("object key that looks like an index"));
    check_lookup("nothing", Some("null"));
    check_lookup("items.2.name", None);
    check_lookup("items.first", None);
    check_lookup("items.-1", None);
    check_lookup("status.length", None);
    check_lookup("checks..database", None);
    check_lookup("missing", None);
    assert!(json_lookup(&json!({"a": 1}), "").is_some());
}

fn address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[test]
fn report_lines_for_http_checks() {
    let full = with_body(
        with_headers(
            with_json(spec(200), &[("status", "ok")]),
            &[("Content-Type", "json")],
        ),
        &["ok"],
    );
    let dropped = SmokeCheck {
        name: "unknown host dropped".to_string(),
        host: Some("bogus.test".to_string()),
        ..spec(444)
    };
    let plain = spec(200);
    let outcomes: Vec<(&str, &SmokeCheck, Result<HttpResponse, HttpError>)> = vec![
        (
            "passes",
            &full,
            Ok(response(
                200,
                &[("content-type", "application/json")],
                r#"{"status": "ok"}"#,
            )),
        ),
        (
            "mismatches",
            &full,
            Ok(response(
                503,
                &[("content-type", "application/json")],
                r#"{"status": "error"}"#,
            )),
        ),
        (
            "refused",
            &full,
            Err(HttpError::ConnectionRefused { address: address() }),
        ),
        (
            "444 and no response passes",
            &dropped,
            Err(HttpError::NoResponse {
                address: address(),
                path: "/health/".to_string(),
            }),
        ),
        (
            "no response when a status was expected",
            &plain,
            Err(HttpError::NoResponse {
                address: address(),
                path: "/health/".to_string(),
            }),
        ),
    ];
    let rendered: Vec<String> = outcomes
        .iter()
        .map(|(case, spec, outcome)| {
            format!("== {case}\n{:#?}", http_check_result(spec, outcome, 12))
        })
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}

#[test]
fn expectations_read_as_fragments() {
    let full = with_body(
        with_headers(
            with_json(spec(200), &[("status", "ok"), ("checks.database", "ok")]),
            &[("Cache-Control", "immutable")],
        ),
        &["<h1>"],
    );
    insta::assert_snapshot!(describe_expectations(&full), @r#"status: 200; json checks.database: ok; json status: ok; header cache-control: contains "immutable"; body: contains "<h1>""#);
    assert_eq!(describe_expectations(&spec(444)), "no response");
}

#[test]
fn requests_for_checks_use_the_check_host_or_smoke_host_and_the_forwarded_scheme() {
    let smoke = dockyard_config::Smoke {
        startup_timeout_seconds: 60,
        stop_timeout_seconds: 10,
        app_size_budget_mb: None,
        nginx_size_budget_mb: None,
        host: "notes.test".to_owned(),
        page: "/".to_owned(),
        https: true,
        deploy_checks: true,
        silence: Default::default(),
        checks: Vec::new(),
    };
    let request = http_request_for_check(&spec(200), &smoke);
    assert_eq!(
        (
            request.method.as_str(),
            request.path.as_str(),
            request.host.as_str()
        ),
        ("GET", "/health/", "notes.test")
    );
    // As the TLS terminator in front of nginx sends it: SECURE_SSL_REDIRECT apps answer instead of redirecting.
    assert_eq!(
        request.headers,
        [("X-Forwarded-Proto".to_owned(), "https".to_owned())]
    );
    let bogus = SmokeCheck {
        host: Some("bogus.test".to_string()),
        ..spec(444)
    };
    assert_eq!(http_request_for_check(&bogus, &smoke).host, "bogus.test");
    let plain = dockyard_config::Smoke {
        https: false,
        ..smoke
    };
    assert_eq!(
        http_request_for_check(&bogus, &plain).headers,
        [("X-Forwarded-Proto".to_owned(), "http".to_owned())]
    );
}
