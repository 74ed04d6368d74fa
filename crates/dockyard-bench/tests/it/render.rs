//! BENCHMARKS.md as rendered from a fixed report, and the parsing of the smoke's progress lines.

use dockyard_bench::figures::number_after;
use dockyard_bench::machine::Machine;
use dockyard_bench::render::{render_markdown, Report};
use dockyard_bench::{Row, Statistic, Summary, Target, Unit};

#[test]
fn benchmarks_markdown() {
    let report = Report {
        mode: "full".to_owned(),
        runs: 3,
        date: "2026-11-22 15:00 UTC".to_owned(),
        machine: Machine {
            cores: 2,
            memory: "23.4 GiB".to_owned(),
            kernel: "6.1.0".to_owned(),
            engine: "20.10.24 (API 1.41)".to_owned(),
            tar: "tar (GNU tar) 1.34".to_owned(),
            gzip: "gzip 1.12".to_owned(),
            rustc: "rustc 1.91.0".to_owned(),
        },
        rows: vec![
            Row {
                figure: 1,
                name: "context tarball, sample app (40 files, 0 MiB)".to_owned(),
                unit: Unit::Seconds,
                dockyard: Summary::of(&[0.02, 0.021, 0.025]).unwrap(),
                baseline: Some(Summary::of(&[0.05, 0.06, 0.055]).unwrap()),
                targets: vec![Target::RatioAtMost(0.5)],
            },
            Row {
                figure: 2,
                name: "peak RSS, pack".to_owned(),
                unit: Unit::Mebibytes,
                dockyard: Summary::of(&[31.5, 32.0]).unwrap(),
                baseline: None,
                targets: vec![Target::ValueAtMost(100.0, Statistic::Max)],
            },
            Row {
                figure: 6,
                name: "smoke: container start to healthy".to_owned(),
                unit: Unit::Milliseconds,
                dockyard: Summary::of(&[2500.0]).unwrap(),
                baseline: None,
                targets: Vec::new(),
            },
        ],
        commands: vec![(1, "cargo xtask bench-probe pack TREE OUT".to_owned())],
        notes: vec!["other work loaded the machine".to_owned()],
    };
    insta::assert_snapshot!(render_markdown(&report));
}

#[test]
fn numbers_around_markers() {
    let text = "==> smoke\n    ready: /health/ answered 200 after 2345 ms, 12 ms after the previous probe (probing every 10 ms)\n    engine health `healthy` after 2900 ms\n";
    assert_eq!(
        number_after(text, "answered 200 after ", false),
        Some(2345.0)
    );
    assert_eq!(
        number_after(text, "ms after the previous probe", true),
        Some(12.0)
    );
    assert_eq!(
        number_after(text, "engine health `healthy` after ", false),
        Some(2900.0)
    );
    assert_eq!(number_after(text, "not there", false), None);
}
