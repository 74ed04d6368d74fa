//! Ratios against targets, with the noise measured in the same run deciding between "within noise" and a failure.

use dockyard_bench::verdict::{regression_message, regressions, verdict};
use dockyard_bench::{Row, Statistic, Summary, Target, Unit, Verdict};

fn summary(samples: &[f64]) -> Summary {
    Summary::of(samples).unwrap()
}

fn row(dockyard: &[f64], baseline: Option<&[f64]>, targets: Vec<Target>) -> Row {
    Row {
        figure: 1,
        name: "context tarball".to_owned(),
        unit: Unit::Seconds,
        dockyard: summary(dockyard),
        baseline: baseline.map(summary),
        targets,
    }
}

#[test]
fn verdict_allows_the_noise_above_the_limit_and_no_more() {
    for (measured, limit, noise, expected) in [
        (0.4, 0.5, 0.0, Verdict::Pass),
        (0.5, 0.5, 0.0, Verdict::Pass),
        (0.55, 0.5, 0.1, Verdict::WithinNoise),
        (0.6, 0.5, 0.1, Verdict::WithinNoise),
        (0.61, 0.5, 0.1, Verdict::Fail),
        (0.51, 0.5, 0.0, Verdict::Fail),
    ] {
        assert_eq!(
            verdict(measured, limit, noise),
            expected,
            "{measured} against {limit} ± {noise}"
        );
    }
}

#[test]
fn ratio_checks_use_both_spreads_as_noise() {
    // Dockyard 1.0 (0.9 to 1.1: ±10 %), baseline 2.0 (1.8 to 2.2: ±10 %): ratio 0.5, noise ±20 % of it.
    let row = row(
        &[0.9, 1.0, 1.1],
        Some(&[1.8, 2.0, 2.2]),
        vec![Target::RatioAtMost(0.45)],
    );
    assert!((row.ratio().unwrap() - 0.5).abs() < 1e-9);
    let checks = row.checks();
    assert_eq!(checks.len(), 1);
    assert!((checks[0].noise - 0.1).abs() < 1e-9, "{:?}", checks[0]);
    assert_eq!(checks[0].verdict, Verdict::WithinNoise);
    assert!(regressions(std::slice::from_ref(&row)).is_empty());

    let quiet = row_quiet();
    let failed = regressions(std::slice::from_ref(&quiet));
    assert_eq!(failed.len(), 1);
    assert_eq!(
        regression_message(&failed[0]),
        "figure 1 (context tarball): ratio 0.500 is over its target 0.450 by more than the measured noise 0.000"
    );
}

fn row_quiet() -> Row {
    row(
        &[1.0, 1.0],
        Some(&[2.0, 2.0]),
        vec![Target::RatioAtMost(0.45)],
    )
}

#[test]
fn value_checks_hold_the_median_or_every_run() {
    let mut memory = row(
        &[40.0, 90.0, 120.0],
        None,
        vec![Target::ValueAtMost(100.0, Statistic::Max)],
    );
    memory.unit = Unit::Mebibytes;
    let checks = memory.checks();
    assert_eq!(
        (
            checks[0].measured_what,
            checks[0].measured,
            checks[0].verdict
        ),
        ("worst run", 120.0, Verdict::Fail)
    );

    let noop = row(
        &[0.9, 1.05, 1.2],
        Some(&[10.0]),
        vec![
            Target::ValueAtMost(1.0, Statistic::Median),
            Target::RatioAtMost(0.2),
        ],
    );
    let checks = noop.checks();
    assert_eq!(checks.len(), 2);
    assert_eq!(
        (checks[0].measured_what, checks[0].verdict),
        ("median", Verdict::WithinNoise)
    );
    assert_eq!(
        (checks[1].measured_what, checks[1].verdict),
        ("ratio", Verdict::Pass)
    );
}

#[test]
fn a_ratio_target_without_a_baseline_is_not_checked() {
    let row = row(&[1.0], None, vec![Target::RatioAtMost(0.5)]);
    assert_eq!(row.ratio(), None);
    assert!(row.checks().is_empty());
}

#[test]
fn met_rows_are_those_whose_every_check_passes() {
    let markdown = "# Benchmarks\n\n| 9 | outside the figures table | - | - | - | - | FAIL |\n\n## Figures\n\n\
| # | figure | Dockyard | baseline | ratio | target | verdict |\n\
| --- | --- | --- | --- | --- | --- | --- |\n\
| 1 | tarball, sample | 1 s | 2 s | 0.5x | ratio <= 0.5 | PASS |\n\
| 1 | tarball, tree | 1 s | 1 s | 1.0x | ratio <= 0.5 | FAIL |\n\
| 2 | peak RSS | 30 MiB | - | - | every run <= 100 MiB | PASS |\n\
| 3 | no-op build | 0.1 s | 9 s | 0.01x | median <= 1 s, ratio <= 0.2 | PASS, PASS |\n\
| 4 | cold pipeline | 9 s | 9 s | 1.05x | ratio <= 1 | FAIL (within noise) |\n\
| 6 | start to healthy | 2 s | - | - | reported | - |\n\n## Commands\n\n| 5 | after the table | - | - | - | - | PASS |\n";
    let met: Vec<(u8, String)> = dockyard_bench::verdict::met_rows(markdown)
        .into_iter()
        .collect();
    assert_eq!(
        met,
        [
            (1, "tarball, sample".to_owned()),
            (2, "peak RSS".to_owned()),
            (3, "no-op build".to_owned())
        ]
    );
    assert!(dockyard_bench::verdict::met_rows("").is_empty());
    assert_eq!(
        dockyard_bench::verdict::row_key("context tarball, generated tree (2000 files, 47 MiB)"),
        "context tarball, generated tree"
    );
}

#[test]
fn ci_gates_only_what_a_loaded_machine_cannot_flip() {
    use dockyard_bench::verdict::ci_regressions;
    // The regression issue 14 saw on a loaded machine: ratio 0.535 against 0.5, noise 0.025. Reported, not gated.
    let loaded = row(
        &[1.07, 1.07],
        Some(&[2.0, 2.0]),
        vec![Target::RatioAtMost(0.5)],
    );
    assert_eq!(regressions(std::slice::from_ref(&loaded)).len(), 1);
    assert!(ci_regressions(&[loaded]).is_empty());
    // A ratio past twice its target is a real regression.
    let slower = row(
        &[2.2, 2.2],
        Some(&[2.0, 2.0]),
        vec![Target::RatioAtMost(0.5)],
    );
    assert_eq!(ci_regressions(&[slower]).len(), 1);
    // A wall-clock median alone never fails CI, however far off.
    let noop = row(
        &[5.0, 5.0],
        None,
        vec![Target::ValueAtMost(1.0, Statistic::Median)],
    );
    assert!(ci_regressions(&[noop]).is_empty());
    // A memory peak is held to its target.
    let mut memory = row(
        &[120.0],
        None,
        vec![Target::ValueAtMost(100.0, Statistic::Max)],
    );
    memory.unit = Unit::Mebibytes;
    assert_eq!(ci_regressions(&[memory]).len(), 1);
}
