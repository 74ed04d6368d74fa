//! The HTTP client against one-connection local servers: parsing, what the server receives, keep-alive, no
//! redirects, and each error.

use std::time::{Duration, Instant};

use dockyard_smoke::http::{build, send, Connection, Method, MAX_RESPONSE_BYTES};
use dockyard_smoke::{HttpError, HttpRequest, HttpResponse};

use crate::support::{refused_address, render_error, serve_once, Behaviour};

const TIMEOUT: Duration = Duration::from_secs(5);

fn render_response(response: &HttpResponse) -> String {
    let mut text = format!("status {}\n", response.status);
    for (name, value) in &response.headers {
        text.push_str(&format!("  {name}: {value}\n"));
    }
    text.push_str(&format!("  body {:?}\n", response.body_text()));
    text
}

/// Sends a GET to a server answering `raw`, rendering the response or the error.
async fn check(raw: &[u8]) -> String {
    let (address, server) = serve_once(Behaviour::Answer(raw.to_vec())).await;
    let outcome = send(
        address,
        &HttpRequest::get("/health/", "notes.test"),
        TIMEOUT,
    )
    .await;
    server.await.unwrap();
    match outcome {
        Ok(response) => render_response(&response),
        Err(error) => format!("{}\n", render_error(&error, address)),
    }
}

#[tokio::test]
async fn canned_responses() {
    let cases: &[(&str, &[u8])] = &[
        (
            "json with content-length",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}",
        ),
        (
            "header names lowercased, repeats grouped by name",
            b"HTTP/1.0 200 OK\r\nSet-Cookie: a=1\r\nX-Thing:  spaced  \r\nset-cookie: b=2\r\n\r\nhi",
        ),
        ("body until close without content-length", b"HTTP/1.0 404 Not Found\r\n\r\nnot here\r\nat all"),
        ("reason phrase optional", b"HTTP/1.1 204\r\n\r\n"),
        ("bare line feeds", b"HTTP/1.0 301 Moved\nLocation: /next/\n\nbody"),
        ("folded header", b"HTTP/1.0 200 OK\r\nX-Long: one\r\n  two\r\n\r\n"),
        ("extra bytes after content-length dropped", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
        ("invalid utf-8 body", b"HTTP/1.0 200 OK\r\n\r\nab\xffcd"),
        ("not http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        ("http/2 status line", b"HTTP/2 200\r\n\r\n"),
        ("ends inside the head: an incomplete answer is none", b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"),
        ("header without colon", b"HTTP/1.0 200 OK\r\nnonsense\r\n\r\n"),
        ("short body", b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
        ("bad content-length", b"HTTP/1.0 200 OK\r\nContent-Length: ten\r\n\r\nshort"),
        ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
    ];
    let mut rendered = String::new();
    for (name, raw) in cases {
        rendered.push_str(&format!("== {name}\n{}", check(raw).await));
    }
    insta::assert_snapshot!(rendered);
}

#[tokio::test]
async fn head_responses_have_no_body_despite_content_length() {
    let (address, server) = serve_once(Behaviour::Answer(
        b"HTTP/1.0 200 OK\r\nContent-Length: 1234\r\n\r\n".to_vec(),
    ))
    .await;
    let request = HttpRequest {
        method: Method::HEAD,
        ..HttpRequest::get("/", "notes.test")
    };
    let response = send(address, &request, TIMEOUT).await.unwrap();
    server.await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("1234"));
    assert!(response.body.is_empty());
}

#[tokio::test]
async fn header_lookup_is_case_insensitive_and_takes_the_first() {
    let response = HttpResponse {
        status: 200,
        headers: vec![
            ("cache-control".to_string(), "max-age=60".to_string()),
            ("cache-control".to_string(), "immutable".to_string()),
        ],
        body: Vec::new(),
    };
    assert_eq!(response.header("Cache-Control"), Some("max-age=60"));
    assert_eq!(response.header("vary"), None);
}

/// What a server answering `201` receives for `request`, line by line.
async fn received(request: &HttpRequest) -> String {
    let (address, server) = serve_once(Behaviour::Answer(
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ))
    .await;
    let response = send(address, request, TIMEOUT).await.unwrap();
    let received = server.await.unwrap();
    assert_eq!(response.status, 201);
    String::from_utf8(received)
        .unwrap()
        .replace("\r\n", "\\r\\n\n")
}

#[tokio::test]
async fn the_server_receives_the_request_as_written() {
    let cases = [
        HttpRequest::get("/health/", "notes.test"),
        HttpRequest::get("/", ""),
        HttpRequest {
            method: Method::POST,
            path: "/upload/?kind=big".to_string(),
            host: "notes.test:8080".to_string(),
            headers: vec![
                ("Accept-Encoding".to_string(), "gzip".to_string()),
                ("X-Forwarded-Proto".to_string(), "https".to_string()),
            ],
            body: b"a=1&b=2".to_vec(),
        },
    ];
    let mut rendered = Vec::new();
    for request in &cases {
        rendered.push(received(request).await);
    }
    insta::assert_snapshot!(rendered.join("\n==\n"));
}

#[test]
fn invalid_requests() {
    let valid = HttpRequest::get("/", "notes.test");
    let header = |name: &str, value: &str| HttpRequest {
        headers: vec![(name.to_string(), value.to_string())],
        ..valid.clone()
    };
    let cases = [
        HttpRequest {
            path: "health/".to_string(),
            ..valid.clone()
        },
        HttpRequest {
            path: "/a b".to_string(),
            ..valid.clone()
        },
        HttpRequest {
            path: "/\r\nX-Injected: 1".to_string(),
            ..valid.clone()
        },
        HttpRequest {
            host: "evil.test\r\nX: y".to_string(),
            ..valid.clone()
        },
        header("Host", "other.test"),
        header("content-length", "5"),
        header("Connection", "keep-alive"),
        header("Transfer-Encoding", "chunked"),
        header("Bad Name", "x"),
        header("", "x"),
        header("X-Ok", "line\r\nX-Injected: 1"),
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|request| match build(request) {
            Ok(built) => format!("accepted {built:?}"),
            Err(error) => error.to_string(),
        })
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
    assert!(build(&header("X-Ok", "tab\tinside")).is_ok());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (address, server) = serve_once(Behaviour::Answer(
        b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.test/\r\nContent-Length: 0\r\n\r\n"
            .to_vec(),
    ))
    .await;
    let response = send(address, &HttpRequest::get("/", "notes.test"), TIMEOUT)
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(response.header("location"), Some("http://elsewhere.test/"));
}

#[tokio::test]
async fn one_connection_carries_many_requests() {
    let (address, server) = serve_once(Behaviour::KeepAlive(3)).await;
    let mut connection = Connection::open(address).await.unwrap();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        assert!(connection.is_reusable().await);
        let response = connection
            .send(&HttpRequest::get("/", "notes.test"), TIMEOUT)
            .await
            .unwrap();
        bodies.push(response.body_text());
    }
    let received = server.await.unwrap();
    assert_eq!(bodies, ["1", "2", "3"]);
    assert_eq!(
        String::from_utf8(received)
            .unwrap()
            .matches("GET / HTTP/1.1")
            .count(),
        3
    );
    // The server has closed its end: the connection says so instead of failing the next request.
    assert!(!connection.is_reusable().await);
}

#[tokio::test]
async fn invalid_requests_are_refused_before_connecting() {
    let address = refused_address().await;
    let request = HttpRequest::get("no-slash", "notes.test");
    let error = send(address, &request, TIMEOUT).await.unwrap_err();
    assert!(
        matches!(error, HttpError::InvalidRequest { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn connection_refused() {
    let address = refused_address().await;
    let error = send(address, &HttpRequest::get("/", "notes.test"), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, HttpError::ConnectionRefused { address: refused } if refused == address),
        "{error:?}"
    );
    insta::assert_snapshot!(render_error(&error, address), @"ConnectionRefused: connection to ADDR refused");
    assert!(error.hint().is_some());
}

#[tokio::test]
async fn closed_after_reading_is_no_response() {
    let (address, server) = serve_once(Behaviour::CloseAfterReading).await;
    let error = send(address, &HttpRequest::get("/", "bogus.test"), TIMEOUT)
        .await
        .unwrap_err();
    server.await.unwrap();
    insta::assert_snapshot!(render_error(&error, address), @"NoResponse: ADDR closed the connection without a response to /");
}

#[tokio::test]
async fn closed_immediately_is_no_response() {
    let (address, server) = serve_once(Behaviour::CloseImmediately).await;
    let error = send(
        address,
        &HttpRequest::get("/health/", "notes.test"),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    server.await.unwrap();
    assert!(
        matches!(&error, HttpError::NoResponse { path, .. } if path == "/health/"),
        "{error:?}"
    );
}

#[tokio::test]
async fn closed_immediately_while_sending_a_large_body_is_no_response() {
    let (address, server) = serve_once(Behaviour::CloseImmediately).await;
    let request = HttpRequest {
        method: Method::POST,
        body: vec![b'x'; 8 * 1024 * 1024],
        ..HttpRequest::get("/upload/", "notes.test")
    };
    let error = send(address, &request, TIMEOUT).await.unwrap_err();
    server.await.unwrap();
    assert!(matches!(error, HttpError::NoResponse { .. }), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (address, server) = serve_once(Behaviour::NeverAnswer).await;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = send(address, &HttpRequest::get("/slow/", "notes.test"), timeout)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    server.abort();
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    insta::assert_snapshot!(render_error(&error, address), @"Timeout: no complete response from ADDR to /slow/ within 300 ms");
}

#[tokio::test]
async fn an_early_answer_to_a_large_body_is_heard() {
    let (address, server) = serve_once(Behaviour::AnswerEarlyThenDrain(
        b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\n\r\ntoo large".to_vec(),
    ))
    .await;
    let request = HttpRequest {
        method: Method::POST,
        body: vec![b'x'; 8 * 1024 * 1024],
        ..HttpRequest::get("/upload/", "notes.test")
    };
    let response = send(address, &request, TIMEOUT).await.unwrap();
    server.await.unwrap();
    assert_eq!(response.status, 413);
    assert_eq!(response.body_text(), "too large");
}

#[tokio::test]
async fn responses_over_the_limit_are_refused() {
    let mut raw = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    raw.resize(MAX_RESPONSE_BYTES + 1024, b'x');
    let (address, server) = serve_once(Behaviour::Answer(raw)).await;
    let outcome = send(address, &HttpRequest::get("/big/", "notes.test"), TIMEOUT).await;
    server.abort();
    let error = outcome.unwrap_err();
    insta::assert_snapshot!(render_error(&error, address), @"ResponseTooLarge: response to /big/ from ADDR is larger than 16777216 bytes");
}
