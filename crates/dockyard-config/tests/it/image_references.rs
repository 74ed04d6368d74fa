//! Image references: parsing, printing back, pull strings, and what is wrong with bad ones.

use dockyard_config::ImageRef;

/// One line per reference: its parts and derived strings, or the error.
fn check_image_reference(reference: &str) -> String {
    match reference.parse::<ImageRef>() {
        Ok(image) => {
            assert_eq!(image.to_string(), reference, "Display round-trips");
            assert_eq!(
                serde_json::to_value(&image).expect("serializes"),
                serde_json::Value::String(reference.to_owned()),
                "serializes as its string"
            );
            format!(
                "{reference}\n  registry={:?} repository={:?} tag={:?} digest={:?}\n  \
                 pull={} default_tag={}",
                image.registry,
                image.repository,
                image.tag,
                image.digest,
                image.to_pull_string(),
                image.with_default_tag()
            )
        }
        Err(error) => format!("{reference}\n  error: {error}"),
    }
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn valid_image_references() {
    let references = [
        "python".to_owned(),
        "python:3.11-slim".to_owned(),
        "dockyard/python-runtime:bookworm".to_owned(),
        "localhost:5000/a/b:t".to_owned(),
        "localhost/app".to_owned(),
        "registry.example.com:443/team/app".to_owned(),
        "[::1]:5000/app:v1".to_owned(),
        format!("ghcr.io/o/r@{DIGEST}"),
        format!("python:3.12@{DIGEST}"),
        "a__b/c---d/e.f_g:Tag_1.0-rc".to_owned(),
    ];
    let rendered: Vec<String> = references
        .iter()
        .map(|reference| check_image_reference(reference))
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}

#[test]
fn invalid_image_references() {
    let long_tag = format!("python:{}", "a".repeat(129));
    let references = [
        "",
        "Python:3.11",
        "MyOrg/app",
        "python:",
        "python:-slim",
        "python:3.11 slim",
        "python@sha256:1234",
        "python@md5:0123456789abcdef0123456789abcdef",
        "python@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "a//b",
        "team/app-",
        "team/a..b",
        "exa_mple.com/app",
        "localhost:port/app",
        ":tag",
        long_tag.as_str(),
    ];
    let rendered: Vec<String> = references
        .iter()
        .map(|reference| check_image_reference(reference))
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}
