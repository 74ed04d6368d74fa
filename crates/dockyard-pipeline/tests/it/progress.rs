//! The progress views as a person reads them: the plain lines of CI logs, GitHub Actions groups, the live lines.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dockyard_pipeline::progress::{live_lines, parse_done_line, Event, PlainView};

/// A short run: a cached base, a builder image build with output, a warning, a failed export.
fn events() -> Vec<Event> {
    let step = |name: &str, message: &str| Event::Step {
        name: name.to_owned(),
        message: message.to_owned(),
    };
    let done = |name: &str, message: &str, millis: u64| Event::Done {
        name: name.to_owned(),
        message: message.to_owned(),
        elapsed: Duration::from_millis(millis),
    };
    vec![
        step(
            "run",
            "dockyard-sample (run 1a2b-42, engine unix:///var/run/docker.sock)",
        ),
        done(
            "base runtime",
            "dockyard/python-runtime:bookworm present, sha256:0123456789ab",
            12,
        ),
        step(
            "builder image",
            "building dockyard-sample-builder:latest: changed: builder context",
        ),
        Event::Output {
            source: "builder image".to_owned(),
            line: "Step 1/6 : FROM dockyard/python-builder:bookworm".to_owned(),
        },
        done(
            "builder image",
            "built dockyard-sample-builder:latest sha256:89abcdef0123",
            5400,
        ),
        step("export", "running the builder container (changed: source)"),
        Event::Detail("builder step: tests".to_owned()),
        Event::Output {
            source: "builder".to_owned(),
            line: "Ran 12 tests in 0.8s".to_owned(),
        },
        Event::Warning("scan not run: trivy is not installed".to_owned()),
    ]
}

fn render(github: bool) -> String {
    let mut view = PlainView::new(github);
    let mut lines: Vec<String> = events()
        .iter()
        .flat_map(|event| view.render(event))
        .collect();
    lines.extend(view.close());
    lines.join("\n")
}

#[test]
fn plain_view_for_ci_logs() {
    insta::assert_snapshot!(render(false));
}

#[test]
fn finished_steps_read_back_from_the_plain_lines() {
    let mut view = PlainView::new(false);
    let finished: Vec<(String, f64)> = events()
        .iter()
        .flat_map(|event| view.render(event))
        .filter_map(|line| parse_done_line(&line).map(|(name, seconds)| (name.to_owned(), seconds)))
        .collect();
    assert_eq!(
        finished,
        [
            ("base runtime".to_owned(), 0.0),
            ("builder image".to_owned(), 5.4)
        ]
    );
    assert_eq!(
        parse_done_line("==> export: a (b) c (12.3s)"),
        Some(("export", 12.3))
    );
    for line in [
        "==> run: dockyard-sample (run 1a2b-42)",
        "    builder | ok (0.1s)",
        "==> export: running (soon s)",
    ] {
        assert_eq!(parse_done_line(line), None, "{line}");
    }
}

#[test]
fn github_actions_groups_each_step() {
    let text = render(true);
    let opened = text
        .lines()
        .filter(|line| line.starts_with("::group::"))
        .count();
    let closed = text.lines().filter(|line| *line == "::endgroup::").count();
    assert_eq!(opened, closed, "unbalanced groups:\n{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn live_view_shows_one_line_per_running_step() {
    let now = Instant::now();
    let running = BTreeMap::from([
        (
            "nginx image".to_owned(),
            (
                now - Duration::from_millis(1200),
                "building dockyard-sample-nginx:latest".to_owned(),
            ),
        ),
        (
            "production image".to_owned(),
            (
                now - Duration::from_millis(3400),
                "building dockyard-sample:latest".to_owned(),
            ),
        ),
    ]);
    insta::assert_snapshot!(live_lines(&running, now).join("\n"));
}

#[test]
fn readme_shows_the_plain_view() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("read README.md");
    let view = render(false);
    assert!(
        readme.contains(&view),
        "README.md's `## Output` block differs from the plain view; paste:\n{view}"
    );
}
