//! Static file URLs found in rendered pages, and Django's hashed manifest names.

use dockyard_smoke::static_urls::{is_hashed_static_name, static_urls};

const PAGE: &str = r#"<!doctype html>
<html>
<head>
  <link rel="stylesheet" href="/static/notes/app.19a989e8e2c9.css">
  <link rel='icon' href='/static/favicon.5d41402abc4b.ico'>
  <link rel="canonical" href="https://notes.example/">
  <script src="/static/notes/app.0cc175b9c0f1.js" defer></script>
  <script SRC = "/static/notes/app.0cc175b9c0f1.js"></script>
</head>
<body>
  <a href="/notes/">Notes</a>
  <a href="/static-pages/about/">Not static</a>
  <img src=/static/img/logo.92eb5ffee6ae.png alt=logo>
  <img srcset="/static/img/hero.8277e0910d75.jpg 1x, /static/img/hero@2x.e4da3b7fbbce.jpg 2x,
               /static/img/hero-wide.1679091c5a88.jpg 1200w" src="/static/img/hero.8277e0910d75.jpg">
  <img data-src="/static/lazy.c81e728d9d4c.png">
  <a href="/static/report.pdf?download=1&amp;v=2">report</a>
  <p>src="/static/in-text.c4ca4238a0b9.txt" right after a tag is text, not an attribute</p>
</body>
</html>
"#;

#[test]
fn urls_in_a_rendered_page() {
    insta::assert_snapshot!(static_urls(PAGE, "/static/").join("\n"));
}

#[test]
fn other_static_prefixes() {
    assert_eq!(
        static_urls(
            r#"<link href="https://cdn.example/assets/a.css"><link href="/static/b.css">"#,
            "https://cdn.example/assets/"
        ),
        vec!["https://cdn.example/assets/a.css"]
    );
    assert!(static_urls("<p>no links</p>", "/static/").is_empty());
}

fn check_hashed(path: &str, expected: bool) {
    assert_eq!(is_hashed_static_name(path), expected, "{path}");
}

#[test]
fn hashed_names() {
    check_hashed("notes/app.19a989e8e2c9.css", true);
    check_hashed("/static/notes/app.19a989e8e2c9.css", true);
    check_hashed("app.min.19a989e8e2c9.js", true);
    check_hashed("archive.tar.19a989e8e2c9.gz", true);
    check_hashed("LICENSE.19a989e8e2c9", true);
    check_hashed("/static/app.19a989e8e2c9.css?v=1", true);
    check_hashed("notes/app.css", false);
    check_hashed("notes/app.19A989E8E2C9.css", false);
    check_hashed("notes/app.19a989e8e2c.css", false);
    check_hashed("notes/app.19a989e8e2c90.css", false);
    check_hashed("notes/app-19a989e8e2c9.css", false);
    check_hashed(".19a989e8e2c9.css", false);
    check_hashed("app.19a989e8e2c9.css/", false);
    check_hashed("app.19a989e8e2c9.dir/app.css", false);
    check_hashed("", false);
}
