//! Self-tests of the registry test support: no engine, only the `docker-registry` binary.
#![allow(
    clippy::disallowed_methods,
    reason = "the self-tests talk to the registry and the proxy from synchronous code"
)]

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::registry::*;
use crate::registry_proxy::*;

// ---------------------------------------------------------------------------------------------------------------
// Self-tests: no engine, only the docker-registry binary

/// Uploads `bytes` as a blob of `repository` through `address` (the registry or a proxy in front of it), in one
/// POST and one PUT; returns the two responses.
pub(crate) fn upload_blob(
    address: &str,
    repository: &str,
    bytes: &[u8],
) -> (Response, Option<Response>) {
    let started = http(
        address,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        b"",
    )
    .unwrap();
    if started.status != 202 {
        return (started, None);
    }
    let location = started
        .header("location")
        .expect("a Location for the upload");
    let (upload_address, target) = resolve_location(address, location);
    let finished = http(
        &upload_address,
        "PUT",
        &with_query(&target, &format!("digest={}", digest_of(bytes))),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    )
    .unwrap();
    (started, Some(finished))
}

pub(crate) fn assert_injected(response: &Response) {
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.text(), INJECTED_ERROR_BODY);
    assert_eq!(response.header("connection"), Some("close"));
}

#[test]
pub(crate) fn digests_are_sha256_as_registries_write_them() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            &[b'a'; 1000],
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3",
        ),
    ];
    for (data, hex) in cases {
        assert_eq!(digest_of(data), format!("sha256:{hex}"));
    }
}

#[test]
pub(crate) fn locations_resolve_on_loopback_only() {
    assert_eq!(
        resolve_location(
            "127.0.0.1:1",
            "http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=y"
        ),
        (
            "127.0.0.1:5000".to_owned(),
            "/v2/a/blobs/uploads/x?_state=y".to_owned()
        )
    );
    assert_eq!(
        resolve_location("127.0.0.1:1", "/v2/a/blobs/uploads/x"),
        ("127.0.0.1:1".to_owned(), "/v2/a/blobs/uploads/x".to_owned())
    );
    assert_eq!(with_query("/x?a=1", "b=2"), "/x?a=1&b=2");
    assert_eq!(with_query("/x", "b=2"), "/x?b=2");
    let elsewhere =
        std::panic::catch_unwind(|| resolve_location("127.0.0.1:1", "http://10.0.0.1:80/v2/"));
    assert!(
        elsewhere.is_err(),
        "a non-loopback Location must be refused"
    );
}

#[test]
pub(crate) fn local_registry_reports_catalog_tags_and_digest_of_a_manifest_put_by_hand() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    assert_eq!(registry.catalog(), Vec::<String>::new());
    assert_eq!(registry.tags("selftest/hand"), Vec::<String>::new());
    assert_eq!(registry.manifest_digest("selftest/hand", "1"), None);
    assert_eq!(registry.manifest("selftest/hand", "1"), None);

    let layer = b"not really a gzipped tar: the registry does not look inside layers\n".to_vec();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"dockyard.selftest": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(&layer)]},
    })
    .to_string()
    .into_bytes();
    for blob in [&layer, &config] {
        let (started, finished) = upload_blob(&registry.address, "selftest/hand", blob);
        assert_eq!(started.status, 202, "{}", started.text());
        let finished = finished.unwrap();
        assert_eq!(finished.status, 201, "{}", finished.text());
        assert_eq!(
            finished.header("docker-content-digest"),
            Some(digest_of(blob).as_str())
        );
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": digest_of(&config),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": digest_of(&layer),
        }],
    })
    .to_string()
    .into_bytes();
    let manifest_digest = digest_of(&manifest);
    for tag in ["1", "latest"] {
        let put = registry.request(
            "PUT",
            &format!("/v2/selftest/hand/manifests/{tag}"),
            &[(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )],
            &manifest,
        );
        assert_eq!(put.status, 201, "{}\n{}", put.text(), registry.log_tail());
        assert_eq!(
            put.header("docker-content-digest"),
            Some(manifest_digest.as_str())
        );
    }

    assert_eq!(registry.catalog(), vec!["selftest/hand".to_owned()]);
    assert_eq!(
        registry.tags("selftest/hand"),
        vec!["1".to_owned(), "latest".to_owned()]
    );
    assert_eq!(registry.tags("selftest/other"), Vec::<String>::new());
    assert_eq!(
        registry.manifest_digest("selftest/hand", "1"),
        Some(manifest_digest.clone())
    );
    assert_eq!(
        registry.manifest_digest("selftest/hand", "latest"),
        Some(manifest_digest.clone())
    );
    assert_eq!(registry.manifest_digest("selftest/hand", "2"), None);
    let fetched = registry
        .manifest("selftest/hand", &manifest_digest)
        .unwrap();
    assert_eq!(fetched["layers"][0]["digest"], digest_of(&layer).as_str());
    assert_eq!(
        registry.blob("selftest/hand", &digest_of(&config)),
        Some(config.clone())
    );
    assert_eq!(registry.blob("selftest/hand", &digest_of(b"absent")), None);
    assert_eq!(
        registry.reference("selftest/hand", "1"),
        format!("{}/selftest/hand:1", registry.address)
    );
    assert!(
        registry.log().contains("/v2/selftest/hand/manifests/1"),
        "the registry logs its requests:\n{}",
        registry.log_tail()
    );

    // Drop kills the process and removes the storage.
    let address = registry.address.clone();
    let storage = registry.dir.path().to_path_buf();
    drop(registry);
    assert!(!storage.exists(), "{} is left behind", storage.display());
    assert!(
        http_with_timeout(&address, "GET", "/v2/", &[], b"", Duration::from_secs(2)).is_err(),
        "the registry still answers after drop"
    );
}

#[test]
pub(crate) fn failing_proxy_fails_the_first_two_writes_then_forwards_everything() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let proxy = FailingProxy::start(&registry.address, 2, 503);
    let v2 = http(&proxy.address, "GET", "/v2/", &[], b"").unwrap();
    assert_eq!(v2.status, 200, "{v2:?}");
    assert_eq!(
        v2.header("docker-distribution-api-version"),
        Some("registry/2.0"),
        "the registry's own answer comes through"
    );
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (0, 1));

    let blob = b"dockyard registry self-test blob\n";
    for n_failed in 1..=2 {
        let (started, finished) = upload_blob(&proxy.address, "selftest/proxy", blob);
        assert_injected(&started);
        assert!(finished.is_none());
        assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (n_failed, 1));
    }
    let (started, finished) = upload_blob(&proxy.address, "selftest/proxy", blob);
    assert_eq!(started.status, 202, "{started:?}");
    let location = started.header("location").unwrap();
    assert!(
        location.starts_with(&format!("http://{}/", proxy.address)),
        "the registry builds upload URLs from Host, so the upload stays on the proxy: {location}"
    );
    let finished = finished.unwrap();
    assert_eq!(finished.status, 201, "{finished:?}");
    assert_eq!(
        finished.header("docker-content-digest"),
        Some(digest_of(blob).as_str())
    );
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (2, 3));
    assert_eq!(
        registry.blob("selftest/proxy", &digest_of(blob)),
        Some(blob.to_vec())
    );

    // Reads never fail, before or after.
    let head = http(
        &proxy.address,
        "HEAD",
        &format!("/v2/selftest/proxy/blobs/{}", digest_of(blob)),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(blob.len().to_string().as_str())
    );
    assert!(head.body.is_empty());
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (2, 4));
    let blob_path = format!("/v2/selftest/proxy/blobs/{}", digest_of(blob));
    assert_eq!(
        proxy.requests(),
        [
            "GET /v2/ 200".to_owned(),
            "POST /v2/selftest/proxy/blobs/uploads/ 503 (injected)".to_owned(),
            "POST /v2/selftest/proxy/blobs/uploads/ 503 (injected)".to_owned(),
            "POST /v2/selftest/proxy/blobs/uploads/ 202".to_owned(),
            format!(
                "PUT {} 201",
                resolve_location(&proxy.address, location)
                    .1
                    .split('?')
                    .next()
                    .unwrap()
            ),
            format!("HEAD {blob_path} 200"),
        ]
    );
}

#[test]
pub(crate) fn failing_proxy_with_usize_max_fails_every_write_with_its_body_and_status() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let proxy = FailingProxy::start(&registry.address, usize::MAX, 500);
    let blob = vec![b'x'; 300 * 1024];
    for n_failed in 1..=3 {
        // A monolithic upload: a POST with a body, which the proxy reads before answering.
        let response = http(
            &proxy.address,
            "POST",
            &format!(
                "/v2/selftest/never/blobs/uploads/?digest={}",
                digest_of(&blob)
            ),
            &[("Content-Type", "application/octet-stream")],
            &blob,
        )
        .unwrap();
        assert_eq!(response.status, 500, "{response:?}");
        assert_eq!(response.json()["errors"][0]["code"], "UNAVAILABLE");
        assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (n_failed, 0));
    }
    let catalog = http(&proxy.address, "GET", "/v2/_catalog", &[], b"").unwrap();
    assert_eq!(catalog.status, 200);
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (3, 1));
    assert_eq!(
        registry.catalog(),
        Vec::<String>::new(),
        "nothing reached the registry"
    );
}

/// Sends raw requests on one keep-alive connection and reads their responses, as the engine may.
pub(crate) struct KeepAlive {
    pub(crate) writer: TcpStream,
    pub(crate) reader: BufReader<TcpStream>,
    pub(crate) address: String,
}

impl KeepAlive {
    pub(crate) fn open(address: &str) -> KeepAlive {
        let stream = TcpStream::connect_timeout(&loopback(address), CONNECT_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        KeepAlive {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            address: address.to_owned(),
        }
    }

    /// `extra_headers` are whole lines without CRLF; `body` is sent as is (already framed).
    pub(crate) fn send(
        &mut self,
        method: &str,
        target: &str,
        extra_headers: &[&str],
        body: &[u8],
    ) -> Response {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.address);
        for line in extra_headers {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        self.writer.flush().unwrap();
        read_response(&mut self.reader, method).unwrap()
    }

    pub(crate) fn is_closed(&mut self) -> bool {
        matches!(read_head(&mut self.reader), Ok(None))
    }
}

#[test]
pub(crate) fn failing_proxy_serves_keep_alive_connections_and_chunked_bodies() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let proxy = FailingProxy::start(&registry.address, 0, 503);
    let mut connection = KeepAlive::open(&proxy.address);
    assert_eq!(connection.send("GET", "/v2/", &[], b"").status, 200);

    // The upload the way the engine streams a layer: POST, a chunked PATCH, then PUT with the digest.
    let started = connection.send(
        "POST",
        "/v2/selftest/chunked/blobs/uploads/",
        &["Content-Length: 0"],
        b"",
    );
    assert_eq!(started.status, 202, "{started:?}");
    let (address, target) = resolve_location(&proxy.address, started.header("location").unwrap());
    assert_eq!(address, proxy.address);
    let blob = b"first chunk, second chunk\n";
    let chunked = b"d\r\nfirst chunk, \r\nd;ext=1\r\nsecond chunk\n\r\n0\r\n\r\n";
    let patched = connection.send(
        "PATCH",
        &target,
        &[
            "Transfer-Encoding: chunked",
            "Content-Type: application/octet-stream",
        ],
        chunked,
    );
    assert_eq!(patched.status, 202, "{patched:?}");
    assert_eq!(patched.header("range"), Some("0-25"));
    let (_, target) = resolve_location(&proxy.address, patched.header("location").unwrap());
    let put = connection.send(
        "PUT",
        &with_query(&target, &format!("digest={}", digest_of(blob))),
        &["Content-Length: 0"],
        b"",
    );
    assert_eq!(put.status, 201, "{put:?}\n{}", registry.log_tail());

    // HEAD carries a Content-Length but no body: the next response must still parse.
    let blob_path = format!("/v2/selftest/chunked/blobs/{}", digest_of(blob));
    let head = connection.send("HEAD", &blob_path, &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let get = connection.send("GET", &blob_path, &[], b"");
    assert_eq!(get.status, 200);
    assert_eq!(get.body, blob);
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (0, 6));

    // An injected failure ends its connection, after the answer.
    let proxy = FailingProxy::start(&registry.address, 1, 503);
    let mut connection = KeepAlive::open(&proxy.address);
    assert_eq!(connection.send("GET", "/v2/", &[], b"").status, 200);
    let failed = connection.send("PATCH", &target, &["Transfer-Encoding: chunked"], chunked);
    assert_injected(&failed);
    assert!(connection.is_closed());
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (1, 1));
}

#[test]
pub(crate) fn failing_proxy_stops_on_drop() {
    let proxy = FailingProxy::start("127.0.0.1:9", 0, 503);
    let address = proxy.address.clone();
    let mut idle = KeepAlive::open(&address);
    let started = Instant::now();
    drop(proxy);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(
        idle.is_closed(),
        "an idle client connection is shut down on drop"
    );
    assert!(
        TcpStream::connect_timeout(&loopback(&address), Duration::from_secs(1)).is_err(),
        "the proxy still listens after drop"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// With the engine

/// A tar holding one regular file, for a tiny image (`Engine::import_rootfs`).
pub(crate) fn tar_with_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    assert!(name.len() < 100, "ustar names are short");
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[148..156].copy_from_slice(b"        ");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    let checksum: u32 = header.iter().map(|byte| u32::from(*byte)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

/// Removes the listed images when the test ends, passed or not.
pub(crate) struct ImagesToRemove<'e> {
    pub(crate) engine: &'e dockyard_engine::Engine,
    pub(crate) references: Vec<String>,
}

impl Drop for ImagesToRemove<'_> {
    fn drop(&mut self) {
        let runtime = crate::support::runtime();
        for reference in &self.references {
            let _ = runtime.block_on(self.engine.remove_image(reference));
        }
    }
}

/// The engine pushes to the local registry, and through the proxy: a push whose only write (the manifest PUT: the
/// layers are already there) is failed with 503 fails as a transient push failure; the next push of it succeeds.
#[test]
pub(crate) fn the_engine_pushes_to_the_local_registry_and_through_the_failing_proxy() {
    let Some((engine, _lock)) = crate::support::engine_or_skip(
        "the_engine_pushes_to_the_local_registry_and_through_the_failing_proxy",
    ) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let runtime = crate::support::runtime();
    let mut cleanup = ImagesToRemove {
        engine: &engine,
        references: Vec::new(),
    };
    let runtime_image = "dockyard/python-runtime:bookworm";
    let source = if runtime
        .block_on(engine.image(runtime_image))
        .unwrap()
        .is_some()
    {
        runtime_image.to_owned()
    } else {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs.tar");
        std::fs::write(
            &rootfs,
            tar_with_one_file(
                "dockyard-selftest.txt",
                b"pushed by the registry self-test\n",
            ),
        )
        .unwrap();
        let imported = "dockyard-it-registry-selftest:rootfs".to_owned();
        cleanup.references.push(imported.clone());
        runtime
            .block_on(engine.import_rootfs(&rootfs, &imported, &[]))
            .unwrap();
        imported
    };
    let mut push = |reference: &str| {
        if !cleanup.references.iter().any(|known| known == reference) {
            cleanup.references.push(reference.to_owned());
        }
        runtime
            .block_on(engine.tag_image(&source, reference))
            .unwrap();
        let mut lines = Vec::new();
        let started = Instant::now();
        let pushed = runtime.block_on(engine.push_image(reference, None, &mut |line: &str| {
            lines.push(line.to_owned());
        }));
        eprintln!(
            "push of {source} as {reference} in {:.1} s: {pushed:?}\n  {}",
            started.elapsed().as_secs_f64(),
            lines.join("\n  ")
        );
        pushed
    };

    let digest = push(&registry.reference("selftest", "1"))
        .unwrap_or_else(|error| panic!("{error}\nregistry log:\n{}", registry.log_tail()));
    assert_eq!(registry.catalog(), ["selftest".to_owned()]);
    assert_eq!(registry.tags("selftest"), ["1".to_owned()]);
    assert_eq!(
        registry.manifest_digest("selftest", "1"),
        Some(digest.clone())
    );

    let proxy = FailingProxy::start(&registry.address, 1, 503);
    let through_proxy = format!("{}/selftest:2", proxy.address);
    let failed = push(&through_proxy);
    let requests = proxy.requests();
    let Err(error) = failed else {
        panic!("the push should fail on the injected 503; the proxy saw {requests:#?}");
    };
    assert_eq!(
        error.push_failure_kind(),
        dockyard_engine::PushFailureKind::Transient,
        "{error}"
    );
    assert!(error.to_string().contains("503"), "{error}");
    assert_eq!(proxy.n_failed(), 1, "{requests:#?}");
    assert!(
        requests.contains(&"PUT /v2/selftest/manifests/2 503 (injected)".to_owned()),
        "the layers are there already: the one write is the manifest; the proxy saw {requests:#?}"
    );
    assert_eq!(registry.tags("selftest"), ["1".to_owned()]);

    let again = push(&through_proxy)
        .unwrap_or_else(|error| panic!("{error}; the proxy saw {:#?}", proxy.requests()));
    assert_eq!(again, digest);
    assert_eq!(proxy.n_failed(), 1);
    assert!(proxy.n_forwarded() > 0);
    assert_eq!(registry.tags("selftest"), ["1".to_owned(), "2".to_owned()]);
    assert_eq!(registry.manifest_digest("selftest", "2"), Some(digest));
}
