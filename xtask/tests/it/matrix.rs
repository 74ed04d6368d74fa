//! `[matrix] python` end to end on the sample app (deploy.matrix.toml): its tests on Python 3.11 (the export, the
//! Python the images ship) and on 3.13 (a builder of its own on Debian trixie) in one `check`, skipped alike when
//! nothing changed; a test that fails on 3.13 only fails the run naming that Python; nothing is left behind.

use dockyard_reliability::Category;

use crate::smoke::cleanup_images;
use crate::support::{assert_no_leftovers, engine_or_skip, stderr, stdout, Project};

#[test]
fn check_runs_the_sample_tests_on_both_pythons_of_the_matrix() {
    let test = "check_runs_the_sample_tests_on_both_pythons_of_the_matrix";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy_with("dockyard-it-matrix", "deploy.matrix.toml");
    let check = project.xtask(&["check"]);
    let log = stderr(&check);
    assert_eq!(check.status.code(), Some(0), "{log}");
    // The 3.13 container says which Python ran the tests; the export's ran them on 3.11.
    assert!(
        log.contains("builder py313 | the tests passed on Python 3.13."),
        "the tests did not run on Python 3.13:\n{log}"
    );
    assert!(
        log.contains("==> tests python 3.13: the tests passed on Python 3.13 (dockyard-it-matrix-builder-py313:latest"),
        "{log}"
    );
    let ran = log.matches("| Ran ").count();
    assert_eq!(
        ran, 2,
        "the test suite ran {ran} times, not once per Python:\n{log}"
    );
    // The images ship [python] version.
    let run = project.xtask(&[
        "run",
        "--",
        "python",
        "-c",
        "import sys; print('python', *sys.version_info[:2])",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(stdout(&run).trim(), "python 3 11");

    let again = project.xtask(&["check"]);
    let log = stderr(&again);
    assert_eq!(again.status.code(), Some(0), "{log}");
    assert!(
        log.contains(
            "==> tests python 3.13: skipped: the tests passed on Python 3.13 with the same inputs"
        ),
        "{log}"
    );

    // A test that holds on 3.11 only: the export passes, the matrix fails, naming Python 3.13.
    std::fs::write(
        project.path("app/tests/test_needs_python_3_11.py"),
        "import sys\nimport unittest\n\n\nclass NeedsPython311(unittest.TestCase):\n    def test_runs_on_3_11(self):\n        self.assertLess(sys.version_info[:2], (3, 12), \"this code still needs Python 3.11\")\n",
    )
    .unwrap();
    let failed = project.xtask(&["check"]);
    let log = stderr(&failed);
    assert_eq!(failed.status.code(), Some(6), "{log}");
    assert!(
        log.contains("==> export: "),
        "the export on 3.11 did not pass:\n{log}"
    );
    assert!(
        log.contains("on Python 3.13 of [matrix]: builder step `tests` failed with exit code"),
        "{log}"
    );
    assert!(log.contains("this code still needs Python 3.11"), "{log}");
    assert!(
        log.contains("it failed on Python 3.13 only: fix it there, or take \"3.13\" out of `[matrix] python`"),
        "{log}"
    );
    assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        Category::Fault,
        "matrix_tests_fail_on_one_python",
        "deploy.matrix.toml with a test asserting Python < 3.12: passes on 3.11 (the export), fails on 3.13",
        "exit 6 after the export passed, naming Python 3.13 of [matrix], the builder's `tests` step and the failing assertion; the hint says to fix it there or take 3.13 out of the matrix; nothing left behind",
        "xtask::matrix::check_runs_the_sample_tests_on_both_pythons_of_the_matrix",
    );
    cleanup_images(&engine, &project);
}
