//! `cargo xtask dev` end to end on the sample app with PostgreSQL and Redis: a view, a template, a new and a deleted
//! static file and a new requirement reach the running app through the API; a one-off command joins the session;
//! Ctrl-C removes everything but the kept data volumes, which `clean --dev` removes. [`session_round`] also runs
//! against the second engine over TCP (`remote.rs`).
#![allow(
    clippy::disallowed_methods,
    reason = "the test drives a long-running `cargo xtask dev` and presses Ctrl-C, which needs the child's handle"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use dockyard_engine::{Engine, PROJECT_LABEL, RUN_LABEL};
use dockyard_pipeline::dev::{DEV_DATA_LABEL, SERVING};

use dockyard_reliability::Category;

use crate::support::{engine_or_skip, runtime, Project};

const TEST: &str = "xtask::it::dev::dev_serves_edits_deletions_and_new_requirements_and_ctrl_c_keeps_only_the_data";
/// How long any one change may take to be served before the test gives up (never a speed check: the benchmark's).
const CHANGE_DEADLINE: Duration = Duration::from_secs(120);

/// A copy of the sample on PostgreSQL and Redis with a `[dev]` table: any free port, DEBUG on.
pub(crate) fn dev_project(name: &str) -> Project {
    with_dev_table(Project::copy_with(name, "deploy.services.toml"))
}

/// `project` with a `[dev]` table: any free port, DEBUG on.
pub(crate) fn with_dev_table(project: Project) -> Project {
    let file = project.path("deploy.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("[dev]"),
        "deploy.services.toml has a [dev] table now: update the test"
    );
    text.push_str("\n[dev]\nport = 0\nenv = { DJANGO_DEBUG = \"true\" }\n");
    std::fs::write(&file, text).unwrap();
    project
}

/// A running `cargo xtask dev`: its process group, its stderr lines, where it serves.
pub(crate) struct Session {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    address: String,
}

impl Session {
    pub(crate) fn start(project: &Project, env: &[(&str, &str)]) -> Session {
        let mut child = project
            .xtask_command(&["dev"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        // The app's and the services' output (stdout) is drained so the pipe never fills; stderr is read by line.
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink);
        });
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("dev | {line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut session = Session {
            child,
            lines,
            seen: Vec::new(),
            address: String::new(),
        };
        let line = session.wait_for_line(SERVING, Duration::from_secs(900));
        session.address = line
            .split(SERVING)
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap()
            .to_owned();
        session
    }

    /// Waits for a stderr line holding `text` (one not seen before), returns it.
    fn wait_for_line(&mut self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("`dev` ended before `{text}`:\n{}", self.seen.join("\n"))
                }
            }
            assert!(
                Instant::now() < deadline,
                "no `{text}` from `dev` within {timeout:?}:\n{}",
                self.seen.join("\n")
            );
        }
    }

    /// GET `path` from the app: (status, body); status 0 when nothing answered.
    fn get(&self, path: &str) -> (u16, String) {
        crate::support::http_get_at(&self.address, path).unwrap_or((0, String::new()))
    }

    /// Polls `path` until `served` holds for the answer; returns the seconds it took.
    pub(crate) fn until(&self, what: &str, path: &str, served: impl Fn(u16, &str) -> bool) -> f64 {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(path);
            if served(status, &body) {
                return started.elapsed().as_secs_f64();
            }
            assert!(
                started.elapsed() < CHANGE_DEADLINE,
                "{what}: not served within {CHANGE_DEADLINE:?}; last answer {status}:\n{body}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Ctrl-C (SIGINT to the process group, as a terminal sends it); returns the exit code and the seconds to exit.
    pub(crate) fn interrupt(&mut self) -> (Option<i32>, f64) {
        let pressed = Instant::now();
        let status = Command::new("kill")
            .args(["-INT", "--", &format!("-{}", self.child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        (exit.code(), pressed.elapsed().as_secs_f64())
    }
}

impl Drop for Session {
    /// A failed test still stops its session, so nothing keeps running on the engine.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.interrupt();
        }
    }
}

fn write(project: &Project, relative: &str, text: &str) {
    std::fs::write(project.path(relative), text).unwrap();
}

/// What one round measured.
pub(crate) struct Round {
    /// Seconds from saving a view to the new answer, per edit.
    pub(crate) view_seconds: Vec<f64>,
    /// Seconds from Ctrl-C to the process's exit.
    pub(crate) stop_seconds: f64,
}

/// The whole round on `project` against the engine `env` names: start, a view, a template, a new and a deleted
/// static file, a new requirement, a one-off command joining the session, Ctrl-C; then only the kept data volumes
/// of the project remain on `engine`.
pub(crate) fn session_round(
    engine: &Engine,
    project: &Project,
    env: &[(&str, &str)],
    category: Category,
    test: &str,
) -> Round {
    let edited = [
        "app/notes/views.py",
        "app/notes/templates/notes/index.html",
        "app/requirements-services.txt",
    ];
    let originals: Vec<String> = edited
        .iter()
        .map(|relative| std::fs::read_to_string(project.path(relative)).unwrap())
        .collect();
    let mut session = Session::start(project, env);
    let (status, body) = session.get("/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Welcome to Dockyard"), "{body}");

    // A view: its answer changes, three times.
    let views = std::fs::read_to_string(project.path("app/notes/views.py")).unwrap();
    let mut view_seconds = Vec::new();
    for round in 0..3 {
        let marker = format!("edited view {round}");
        write(
            project,
            "app/notes/views.py",
            &format!("from django.http import HttpResponse\n\n\ndef index(request):\n    return HttpResponse(\"{marker}\")\n"),
        );
        view_seconds.push(session.until("a view edit", "/", |status, body| {
            status == 200 && body.contains(&marker)
        }));
    }
    write(project, "app/notes/views.py", &views);
    session.until("the view restored", "/", |status, body| {
        status == 200 && body.contains("Welcome to Dockyard")
    });

    // A template.
    let template = project.path("app/notes/templates/notes/index.html");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &template,
        text.replace("<h1>Notes</h1>", "<h1>Notes, edited in dev</h1>"),
    )
    .unwrap();
    session.until("a template edit", "/", |status, body| {
        status == 200 && body.contains("Notes, edited in dev")
    });

    // A new static file, then the same file deleted.
    write(
        project,
        "app/notes/static/notes/dev-extra.txt",
        "served by the dev server\n",
    );
    session.until(
        "a new static file",
        "/static/notes/dev-extra.txt",
        |status, body| status == 200 && body.contains("served by the dev server"),
    );
    std::fs::remove_file(project.path("app/notes/static/notes/dev-extra.txt")).unwrap();
    session.until(
        "a deleted static file",
        "/static/notes/dev-extra.txt",
        |status, _| status == 404,
    );

    // A new requirement: the dependencies are rebuilt, the app restarts, and a view importing it answers.
    let requirements = project.path("app/requirements-services.txt");
    let mut text = std::fs::read_to_string(&requirements).unwrap();
    text.push_str("six==1.17.0\n");
    std::fs::write(&requirements, text).unwrap();
    session.wait_for_line("(restarted)", Duration::from_secs(600));
    write(
        project,
        "app/notes/views.py",
        "import six\nfrom django.http import HttpResponse\n\n\ndef index(request):\n    return HttpResponse(\"six \" + six.__version__)\n",
    );
    session.until(
        "a view importing the new requirement",
        "/",
        |status, body| status == 200 && body.contains("six 1.17.0"),
    );

    // A one-off command beside the session: it joins its network and sees the migrations in PostgreSQL.
    let one_off =
        project.xtask_with_env(&["dev", "--", "manage.py", "showmigrations", "notes"], env);
    assert_eq!(one_off.status.code(), Some(0));
    let out = String::from_utf8_lossy(&one_off.stdout);
    assert!(out.contains("[X] 0002_seed_welcome_note"), "{out}");
    assert!(
        String::from_utf8_lossy(&one_off.stderr).contains("joining the running dev session"),
        "the one-off did not join the session"
    );

    // A second session of the same project is refused: it would start the services again on the same kept data.
    let second = project.xtask_with_env(&["dev"], env);
    let second_stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{second_stderr}");
    assert!(
        second_stderr.contains(&format!("a dev session of {} already runs", project.name)),
        "{second_stderr}"
    );
    dockyard_reliability::record(
        category,
        "a second dev session of the same project",
        "`cargo xtask dev` again while a session of the project serves",
        "exit 2 `a dev session of PROJECT already runs (its network NAME)` with a hint to use one-off commands beside \
         it; the running session and its services untouched",
        test,
    );

    // An interactive one-off through a pseudo-terminal (util-linux's `script`): Django's shell gets a TTY, reads the
    // typed lines and answers on it.
    let tty_command = format!(
        "{} --config {} dev -- manage.py shell",
        env!("CARGO_BIN_EXE_xtask"),
        project.path("deploy.toml").display()
    );
    let mut script = Command::new("script")
        .args(["-qec", &tty_command, "/dev/null"])
        .env(
            dockyard_tools::TOOLS_DIR_ENV,
            crate::support::shared_tools_dir(),
        )
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = script.stdin.take().unwrap();
    let typed = std::thread::spawn(move || {
        // Typed once the shell is up; a TTY line discipline holds the input until then.
        stdin
            .write_all(b"import os; print('tty', os.isatty(0), 6 * 7)\nexit()\n")
            .unwrap();
        stdin
    });
    let output = script.wait_with_output().unwrap();
    drop(typed.join());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("tty True 42"),
        "the shell did not run on a TTY:\n{text}"
    );

    let (code, stop_seconds) = session.interrupt();
    // The project is as it was, for whatever runs on it next.
    for (relative, text) in edited.iter().zip(&originals) {
        write(project, relative, text);
    }
    assert_eq!(code, Some(130), "Ctrl-C ends `dev` as interrupted");
    let project_label = format!("{PROJECT_LABEL}={}", project.name);
    let leftovers = runtime()
        .block_on(engine.find_labelled(&[RUN_LABEL, &project_label]))
        .unwrap();
    assert!(
        leftovers.is_empty(),
        "Ctrl-C left containers, networks or volumes: {leftovers:?}"
    );
    let dev_label = format!("{DEV_DATA_LABEL}={}", project.name);
    let mut kept = runtime()
        .block_on(engine.find_labelled(&[&project_label, &dev_label]))
        .unwrap()
        .volumes;
    kept.sort();
    let mut expected: Vec<String> = ["data", "db-data"]
        .iter()
        .map(|suffix| format!("{}-dev-{suffix}", project.name))
        .collect();
    let deploy = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
    if deploy.contains("[services.cache]") {
        expected.push(format!("{}-dev-cache-data", project.name));
    }
    expected.sort();
    assert_eq!(kept, expected, "the kept data volumes");

    dockyard_reliability::record(
        category,
        "a dev session: edits, deletions, a new requirement, a one-off command, Ctrl-C",
        &format!(
            "`cargo xtask dev` on the sample with PostgreSQL and Redis{}: three view edits, a template edit, a static file \
             added then deleted, six==1.17.0 added to the requirements, `dev -- manage.py showmigrations notes`, Ctrl-C",
            if env.is_empty() { String::new() } else { format!(" ({})", env.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(" ")) }
        ),
        &format!(
            "each change served by the running app (views in {:?} s), the new package importable after the dependencies \
             were rebuilt on the same port, the one-off joined the session; Ctrl-C exited 130 in {stop_seconds:.1} s \
             leaving only the kept data volumes, which `clean --dev` removed",
            view_seconds.iter().map(|seconds| (seconds * 100.0).round() / 100.0).collect::<Vec<_>>()
        ),
        test,
    );
    let clean = project.xtask_with_env(&["clean", "--dev"], env);
    assert_eq!(clean.status.code(), Some(0));
    let kept = runtime()
        .block_on(engine.find_labelled(&[&project_label, &dev_label]))
        .unwrap();
    assert!(kept.is_empty(), "`clean --dev` left {kept:?}");
    Round {
        view_seconds,
        stop_seconds,
    }
}

#[test]
fn dev_serves_edits_deletions_and_new_requirements_and_ctrl_c_keeps_only_the_data() {
    let Some((engine, _lock)) = engine_or_skip(TEST) else {
        return;
    };
    let project = dev_project("dockyard-it-dev");
    let round = session_round(&engine, &project, &[], Category::Fault, TEST);
    eprintln!(
        "save to served: {:?} s; Ctrl-C to exit: {:.2} s",
        round.view_seconds, round.stop_seconds
    );
}

#[test]
fn a_failing_migration_stops_dev_with_exit_6_and_leaves_only_the_kept_volumes() {
    let test = "xtask::it::dev::a_failing_migration_stops_dev_with_exit_6_and_leaves_only_the_kept_volumes";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = dev_project("dockyard-it-dev");
    let file = project.path("deploy.toml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "env = { DJANGO_DEBUG = \"true\" }",
        "env = { DJANGO_DEBUG = \"true\", DATABASE_URL = \"postgres://dockyard@nowhere.invalid:5432/dockyard\" }",
    );
    std::fs::write(&file, text).unwrap();
    let output = project.xtask(&["dev"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("dev: the migrations failed"), "{stderr}");
    assert!(
        stderr.contains("nowhere.invalid"),
        "the error shows the migration's output:\n{stderr}"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        Category::Fault,
        "the migrations fail when a dev session starts",
        "[dev.env] DATABASE_URL naming a host that does not exist, `cargo xtask dev`",
        "exit 6 `dev: the migrations failed` with the last lines of their output and a hint; the services stopped, \
         nothing of the run left, the data volumes kept",
        test,
    );
    let clean = project.xtask(&["clean", "--dev"]);
    assert_eq!(clean.status.code(), Some(0));
}
