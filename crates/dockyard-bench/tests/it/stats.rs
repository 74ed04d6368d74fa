//! Median, spread and the refusal of empty or non-finite samples.

use dockyard_bench::Summary;

#[track_caller]
fn check(samples: &[f64], expected: Option<(f64, f64, f64)>, spread: f64) {
    let summary = Summary::of(samples);
    assert_eq!(
        summary.map(|summary| (summary.median, summary.min, summary.max)),
        expected,
        "{samples:?}"
    );
    if let Some(summary) = summary {
        assert_eq!(summary.n, samples.len());
        assert!(
            (summary.relative_spread() - spread).abs() < 1e-9,
            "{samples:?}: {}",
            summary.relative_spread()
        );
    }
}

#[test]
fn summaries() {
    check(&[], None, 0.0);
    check(&[1.0, f64::NAN], None, 0.0);
    check(&[2.0], Some((2.0, 2.0, 2.0)), 0.0);
    check(&[3.0, 1.0, 2.0], Some((2.0, 1.0, 3.0)), 0.5);
    check(&[4.0, 1.0, 3.0, 2.0], Some((2.5, 1.0, 4.0)), 0.6);
    check(&[0.0, 0.0], Some((0.0, 0.0, 0.0)), 0.0);
    check(&[10.0, 10.0, 11.0], Some((10.0, 10.0, 11.0)), 0.05);
}
