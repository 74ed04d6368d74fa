//! The HTTP checks against the running containers: the ones deploy.toml declares, the static files (every
//! `/static/` URL of the rendered page through nginx with the right caching, the same `staticfiles.json` in both
//! images) and nginx's own behaviour (unknown hosts dropped, bodies over the limit refused, no version shown).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dockyard_config::container_paths::{APP_DIR, NGINX_STATIC_DIR};
use dockyard_config::Via;

use crate::checks::{http_check_result, http_request_for_check};
use crate::http::{self, HttpRequest, HttpResponse, Method};
use crate::lifecycle::Running;
use crate::report::Failure;
use crate::static_urls::{is_hashed_static_name, static_urls};
use crate::{CheckResult, HttpError, RunContext, SmokeError, SmokeImage, StaticFiles};

/// How long one check's request may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one of nginx's quick answers may take.
const NGINX_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the oversized upload may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(20);
/// How many redirects the static check follows from `[smoke] page`.
const MAX_REDIRECTS: usize = 5;

/// The checks deploy.toml declares, in its order, each through nginx or straight to the app.
pub(crate) async fn declared_checks(run: &RunContext<'_>, running: &Running) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for check in &run.config.smoke.checks {
        let started = Instant::now();
        let address = match check.via {
            Via::Nginx => running.front_address(),
            Via::App => running.app_address,
        };
        let request = http_request_for_check(check, &run.config.smoke);
        let outcome = http::send(address, &request, CHECK_TIMEOUT).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        results.push(http_check_result(check, &outcome, duration_ms));
    }
    results
}

/// Whether `status` is a redirect the static check follows.
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// `[smoke] page` through nginx, following up to [`MAX_REDIRECTS`] redirects that stay on smoke's host (a browser
/// on the site would follow them too); returns the path last asked for and its answer. A redirect elsewhere (another
/// host, `https://` when the page was asked for with `[smoke] https`) is the answer.
async fn fetch_page(
    address: std::net::SocketAddr,
    smoke: &dockyard_config::Smoke,
) -> (String, Result<HttpResponse, HttpError>) {
    let mut path = smoke.page.clone();
    for _ in 0..=MAX_REDIRECTS {
        let answer = http::send(
            address,
            &crate::checks::smoke_get(smoke, &path),
            CHECK_TIMEOUT,
        )
        .await;
        let next = match &answer {
            Ok(response) if is_redirect(response.status) => response
                .header("location")
                .and_then(|location| same_site_path(smoke, &path, location)),
            _ => None,
        };
        match next {
            Some(next) => path = next,
            None => return (path, answer),
        }
    }
    let answer = http::send(
        address,
        &crate::checks::smoke_get(smoke, &path),
        CHECK_TIMEOUT,
    )
    .await;
    (path, answer)
}

/// The path (with its query) `location` points to when it stays on smoke's host and scheme, resolved against
/// `from` as a browser resolves it.
fn same_site_path(smoke: &dockyard_config::Smoke, from: &str, location: &str) -> Option<String> {
    let scheme = if smoke.https { "https" } else { "http" };
    let base = url::Url::parse(&format!("{scheme}://{}{from}", smoke.host)).ok()?;
    let target = base.join(location).ok()?;
    if target.scheme() != base.scheme() || target.host_str() != base.host_str() {
        return None;
    }
    let mut path = target.path().to_owned();
    if let Some(query) = target.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

/// Every static URL on the rendered page resolves through nginx with immutable caching for hashed names, nginx holds
/// exactly the static files its label names, and both images carry the same `staticfiles.json` (and the same label
/// for it) when collectstatic wrote one.
pub(crate) async fn static_checks(
    run: &RunContext<'_>,
    running: &Running,
    nginx_image: Option<&SmokeImage>,
    static_files: StaticFiles<'_>,
) -> Result<Vec<CheckResult>, SmokeError> {
    let mut results = Vec::new();
    let (Some(nginx_address), Some(nginx_container), Some(nginx_image)) =
        (running.nginx_address, &running.nginx, nginx_image)
    else {
        return Ok(results);
    };
    let smoke = &run.config.smoke;
    let started = Instant::now();
    let (page_path, page) = fetch_page(nginx_address, smoke).await;
    let urls = match &page {
        Ok(response) if response.status == 200 => {
            static_urls(&response.body_text(), static_files.url)
        }
        _ => Vec::new(),
    };
    let page_problem = match &page {
        Ok(response) if response.status != 200 => Some(match response.header("location") {
            Some(location) if is_redirect(response.status) => {
                format!("HTTP {} to {location} at {page_path}", response.status)
            }
            _ => format!("HTTP {} at {page_path}", response.status),
        }),
        Err(error) => Some(error.to_string()),
        Ok(_) if urls.is_empty() => Some(format!(
            "{page_path}: a page with no {} URL",
            static_files.url
        )),
        Ok(_) => None,
    };
    results.push(CheckResult::timed(
        "static",
        "the rendered page references static files",
        started,
        page_problem.map(|actual| {
            Failure::new(
                format!(
                    "GET {} answers 200 (redirects followed) and references {} URLs",
                    smoke.page, static_files.url
                ),
                actual,
            )
            .with_detail("hint: `[smoke] page` names the page to read, `[smoke] host` the Host it is asked for")
        }),
    ));
    for url in &urls {
        let started = Instant::now();
        let mut request = crate::checks::smoke_get(smoke, url);
        request
            .headers
            .push(("Accept-Encoding".to_owned(), "gzip".to_owned()));
        let failure = match http::send(nginx_address, &request, CHECK_TIMEOUT).await {
            Ok(response) => static_failure(&response, is_hashed_static_name(url)),
            Err(error) => Some(Failure::new("HTTP 200", error.to_string())),
        };
        results.push(CheckResult::timed(
            "static",
            &format!("{url} through nginx"),
            started,
            failure,
        ));
    }

    let label_of = async |image: &SmokeImage, label: &str| -> Option<String> {
        run.engine
            .image(&image.id)
            .await
            .ok()
            .flatten()?
            .labels
            .get(label)
            .cloned()
    };

    let started = Instant::now();
    let served = tree_in_container(run, nginx_container, NGINX_STATIC_DIR).await;
    let recorded = label_of(nginx_image, static_files.tree_label).await;
    let failure = match served {
        Ok((digest, _)) if recorded.as_deref() == Some(&format!("sha256:{digest}")) => None,
        Ok((digest, files)) => Some(Failure::new(
            format!("the files the {} label names", static_files.tree_label),
            format!(
                "{files} files, sha256:{digest}; the label says {}",
                recorded.as_deref().unwrap_or("nothing")
            ),
        )),
        Err(error) => Some(Failure::new(
            format!("the static files in {NGINX_STATIC_DIR}"),
            error.to_string(),
        )),
    };
    results.push(CheckResult::timed(
        "static",
        "nginx serves the files collectstatic wrote",
        started,
        failure,
    ));

    // A manifest storage reads staticfiles.json in the app: both images carry the one collectstatic wrote. The
    // export labels both images with its digest only when collectstatic wrote one (not with Django's default
    // StaticFilesStorage).
    let (app_label, nginx_label) = (
        label_of(&run.app_image, static_files.manifest_label).await,
        label_of(nginx_image, static_files.manifest_label).await,
    );
    if app_label.is_none() && nginx_label.is_none() {
        return Ok(results);
    }
    let started = Instant::now();
    let static_root = run.config.app.static_root.in_container(APP_DIR);
    let in_app = read_file_from_container(
        run,
        &running.app,
        &format!("{static_root}/staticfiles.json"),
    )
    .await;
    let in_nginx = read_file_from_container(
        run,
        nginx_container,
        &format!("{NGINX_STATIC_DIR}/staticfiles.json"),
    )
    .await;
    let same_label = app_label.is_some() && app_label == nginx_label;
    let failure = match (in_app, in_nginx) {
        (Ok(app_manifest), Ok(nginx_manifest)) if app_manifest == nginx_manifest && same_label => {
            None
        }
        (Ok(app_manifest), Ok(nginx_manifest)) if app_manifest == nginx_manifest => {
            Some(Failure::new(
                format!(
                    "the same {} label on both images",
                    static_files.manifest_label
                ),
                format!("app {app_label:?}, nginx {nginx_label:?}"),
            ))
        }
        (Ok(app_manifest), Ok(nginx_manifest)) => Some(Failure::new(
            "identical staticfiles.json in both images",
            format!(
                "app {} bytes, nginx {} bytes, different",
                app_manifest.len(),
                nginx_manifest.len()
            ),
        )),
        (Err(error), _) | (_, Err(error)) => Some(Failure::new(
            "staticfiles.json in both images",
            error.to_string(),
        )),
    };
    results.push(CheckResult::timed(
        "static",
        "staticfiles.json is identical in both images",
        started,
        failure,
    ));
    Ok(results)
}

/// The digest ([`dockyard_context::tree_sha256`]) and the number of files of the folder `path` in `container`.
async fn tree_in_container(
    run: &RunContext<'_>,
    container: &str,
    path: &str,
) -> Result<(String, usize), SmokeError> {
    read_download(run, container, &format!("{path}/."), "tree", |download| {
        let io_error = |source| SmokeError::Io {
            operation: "reading the archive",
            path: download.clone(),
            source,
        };
        let file = std::fs::File::open(&download).map_err(io_error)?;
        let digest = dockyard_context::archive_tree_sha256(std::io::BufReader::new(file))
            .map_err(|error| io_error(std::io::Error::other(error)));
        let _ = std::fs::remove_file(&download);
        digest
    })
    .await
}

/// A static file must answer 200, with a year of immutable caching for a hashed name and without it otherwise.
fn static_failure(response: &HttpResponse, hashed: bool) -> Option<Failure> {
    let cache_control = response.header("cache-control").unwrap_or("").to_owned();
    if response.status != 200 {
        return Some(Failure::new(
            "HTTP 200",
            format!("HTTP {}", response.status),
        ));
    }
    if hashed
        && !(cache_control.contains("immutable") && cache_control.contains("max-age=31536000"))
    {
        return Some(Failure::new(
            "Cache-Control: public, max-age=31536000, immutable",
            format!("Cache-Control: {cache_control}"),
        ));
    }
    if !hashed && cache_control.contains("immutable") {
        return Some(Failure::new(
            "a short max-age for an unhashed name",
            format!("Cache-Control: {cache_control}"),
        ));
    }
    None
}

/// Downloads `path` out of `container` through the API to a tar file in the run's work folder, named `NAME-<id>.tar`,
/// and hands it to `read` on a blocking thread.
async fn read_download<T: Send + 'static>(
    run: &RunContext<'_>,
    container: &str,
    path: &str,
    name: &str,
    read: impl FnOnce(PathBuf) -> Result<T, SmokeError> + Send + 'static,
) -> Result<T, SmokeError> {
    let download = run.work_dir.join(format!(
        "{name}-{}.tar",
        container.get(..12).unwrap_or(container)
    ));
    tokio::fs::create_dir_all(&run.work_dir)
        .await
        .map_err(|source| SmokeError::Io {
            operation: "creating",
            path: run.work_dir.clone(),
            source,
        })?;
    run.engine
        .download_to_file(container, path, &download)
        .await?;
    tokio::task::spawn_blocking(move || read(download))
        .await
        .map_err(|error| SmokeError::Io {
            operation: "reading the archive",
            path: PathBuf::from(path),
            source: std::io::Error::other(error),
        })?
}

/// Reads one file out of a container through the API (a tar stream with one entry).
async fn read_file_from_container(
    run: &RunContext<'_>,
    container: &str,
    path: &str,
) -> Result<Vec<u8>, SmokeError> {
    read_download(run, container, path, "download", first_entry).await
}

/// The bytes of the first entry of the tar file at `download`, which is removed afterwards.
fn first_entry(download: PathBuf) -> Result<Vec<u8>, SmokeError> {
    let io_error = |operation| {
        let path = download.clone();
        move |source| SmokeError::Io {
            operation,
            path,
            source,
        }
    };
    let file = std::fs::File::open(&download).map_err(io_error("opening"))?;
    let mut archive = tar::Archive::new(file);
    let mut entries = archive.entries().map_err(io_error("reading the archive"))?;
    let mut bytes = Vec::new();
    if let Some(entry) = entries.next() {
        std::io::Read::read_to_end(
            &mut entry.map_err(io_error("reading the archive"))?,
            &mut bytes,
        )
        .map_err(io_error("reading the archive"))?;
    }
    let _ = std::fs::remove_file(&download);
    Ok(bytes)
}

/// nginx drops unknown hosts, refuses bodies over the limit with 413, and hides its version.
pub(crate) async fn nginx_checks(run: &RunContext<'_>, running: &Running) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let (Some(address), Some(nginx)) = (running.nginx_address, &run.config.nginx) else {
        return results;
    };
    let started = Instant::now();
    let dropped = "the connection closed without a response";
    let failure = match http::send(
        address,
        &HttpRequest::get("/", "unknown-host.invalid"),
        NGINX_TIMEOUT,
    )
    .await
    {
        Err(HttpError::NoResponse { .. }) => None,
        Ok(response) => Some(Failure::new(dropped, format!("HTTP {}", response.status))),
        Err(error) => Some(Failure::new(dropped, error.to_string())),
    };
    results.push(CheckResult::timed(
        "nginx",
        "requests for unknown hosts are dropped",
        started,
        failure,
    ));

    let started = Instant::now();
    let limit = parse_nginx_size(&nginx.client_max_body_size);
    let request = HttpRequest {
        method: Method::POST,
        body: vec![b'x'; (limit + 1) as usize],
        ..crate::checks::smoke_get(&run.config.smoke, "/")
    };
    let failure = match http::send(address, &request, UPLOAD_TIMEOUT).await {
        Ok(response) if response.status == 413 => None,
        Ok(response) => Some(Failure::new(
            "HTTP 413",
            format!("HTTP {}", response.status),
        )),
        Err(error) => Some(Failure::new("HTTP 413", error.to_string())),
    };
    results.push(CheckResult::timed(
        "nginx",
        &format!("a body over {} gets 413", nginx.client_max_body_size),
        started,
        failure,
    ));

    let started = Instant::now();
    let request = crate::checks::smoke_get(&run.config.smoke, &run.config.app.health_path);
    let failure = match http::send(address, &request, NGINX_TIMEOUT).await {
        Ok(response) => {
            let server = response.header("server").unwrap_or("").to_owned();
            (server.contains('/') || server.chars().any(|character| character.is_ascii_digit()))
                .then(|| {
                    Failure::new(
                        "a Server header without a version",
                        format!("Server: {server}"),
                    )
                })
        }
        Err(error) => Some(Failure::new("a response", error.to_string())),
    };
    results.push(CheckResult::timed(
        "nginx",
        "the Server header hides the version",
        started,
        failure,
    ));
    results
}

/// nginx's size syntax: `10m`, `512k`, `1g`, `100`.
// The one place that reads the size's string: it goes when dockyard-config resolves it to bytes.
fn parse_nginx_size(size: &str) -> u64 {
    let (digits, multiplier) = match size.chars().last() {
        Some('k' | 'K') => (&size[..size.len() - 1], 1024),
        Some('m' | 'M') => (&size[..size.len() - 1], 1024 * 1024),
        Some('g' | 'G') => (&size[..size.len() - 1], 1024 * 1024 * 1024),
        _ => (size, 1),
    };
    digits.parse::<u64>().unwrap_or(0) * multiplier
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_sizes() {
        let check = |size: &str, bytes: u64| assert_eq!(parse_nginx_size(size), bytes, "{size}");
        check("100", 100);
        check("512k", 512 * 1024);
        check("10m", 10 * 1024 * 1024);
        check("10M", 10 * 1024 * 1024);
        check("1g", 1024 * 1024 * 1024);
        check("", 0);
    }

    #[test]
    fn redirects_are_followed_only_on_smoke_host_and_scheme() {
        let smoke = dockyard_config::Smoke {
            startup_timeout_seconds: 60,
            stop_timeout_seconds: 10,
            app_size_budget_mb: None,
            nginx_size_budget_mb: None,
            host: "localhost".to_owned(),
            page: "/".to_owned(),
            https: true,
            deploy_checks: true,
            silence: Default::default(),
            checks: Vec::new(),
        };
        let check = |from: &str, location: &str, expected: Option<&str>| {
            assert_eq!(
                same_site_path(&smoke, from, location).as_deref(),
                expected,
                "{from} -> {location}"
            );
        };
        check("/", "/catalog/", Some("/catalog/"));
        check("/", "https://localhost/en/?a=1", Some("/en/?a=1"));
        check("/en/", "guide/", Some("/en/guide/"));
        check("/", "http://localhost/", None);
        check("/", "https://example.org/", None);
    }
}
