//! Progress output, the pipeline's one place that prints: plain lines for CI logs (grouped per step under GitHub
//! Actions), a compact live view on a terminal, and the full log of every step under `target/dockyard/logs/<run>/`.
//!
//! In plain mode every line is printed as it comes (CI logs stay complete). In live mode a terminal shows one line
//! per running step with its elapsed time; tool and container output goes only to the step's log file, whose
//! path is printed when a run fails. `--verbose` chooses plain mode on a terminal too.
#![allow(
    clippy::print_stderr,
    clippy::print_stdout,
    reason = "this module is the pipeline's one place that prints progress"
)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every line as it comes, on stderr: CI logs, pipes, `--verbose`.
    Plain,
    /// Plain, with each step's lines inside a `::group::` (GitHub Actions).
    GitHub,
    /// A compact live view: one line per running step with its elapsed time (a terminal).
    Live,
}

impl Mode {
    /// The mode for this process: plain when asked (`verbose`), under `CI` or when stderr is no terminal,
    /// grouped under GitHub Actions, live otherwise.
    pub fn detect(verbose: bool) -> Mode {
        use std::io::IsTerminal;
        if std::env::var_os("GITHUB_ACTIONS").is_some() {
            Mode::GitHub
        } else if verbose || std::env::var_os("CI").is_some() || !std::io::stderr().is_terminal() {
            Mode::Plain
        } else {
            Mode::Live
        }
    }
}

/// One thing worth showing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step starts or says what it is doing.
    Step {
        /// The step's name.
        name: String,
        /// What it does.
        message: String,
    },
    /// A detail under the current step.
    Detail(String),
    /// A line of output from a tool or container.
    Output {
        /// Where it comes from (a step, `builder`, `mmdebstrap`, ...).
        source: String,
        /// The line.
        line: String,
    },
    /// A warning that must not scroll by unnoticed.
    Warning(String),
    /// A step finished.
    Done {
        /// The step's name.
        name: String,
        /// What it did.
        message: String,
        /// How long it took.
        elapsed: Duration,
    },
}

/// The plain rendering of events: the lines CI logs show, with `::group::` markers in GitHub mode.
/// Pure, so the non-terminal view is snapshot-tested.
#[derive(Debug, Default)]
pub struct PlainView {
    github: bool,
    open_group: Option<String>,
}

impl PlainView {
    /// A plain view; `github` groups each step's lines.
    pub fn new(github: bool) -> PlainView {
        PlainView {
            github,
            open_group: None,
        }
    }

    /// The lines `event` prints.
    pub fn render(&mut self, event: &Event) -> Vec<String> {
        let mut lines = Vec::new();
        if let (true, Event::Step { name, .. } | Event::Done { name, .. }) = (self.github, event) {
            if self.open_group.as_deref() != Some(name.as_str()) {
                lines.extend(self.close());
                lines.push(format!("::group::{name}"));
                self.open_group = Some(name.clone());
            }
        }
        lines.push(match event {
            Event::Step { name, message } => format!("==> {name}: {message}"),
            Event::Detail(message) => format!("    {message}"),
            Event::Output { source, line } => format!("    {source} | {line}"),
            Event::Warning(message) => format!("warning: {message}"),
            Event::Done {
                name,
                message,
                elapsed,
            } => format!("==> {name}: {message} ({:.1}s)", elapsed.as_secs_f64()),
        });
        if self.github && matches!(event, Event::Done { .. }) {
            lines.extend(self.close());
        }
        lines
    }

    /// Closes an open group.
    pub fn close(&mut self) -> Option<String> {
        self.open_group.take().map(|_| "::endgroup::".to_owned())
    }
}

/// A finished step read back from a plain line `PlainView` printed (`==> NAME: MESSAGE (SECONDSs)`): its name and
/// seconds, for tools that time a run from its log (the bench). `None` for any other line.
pub fn parse_done_line(line: &str) -> Option<(&str, f64)> {
    let rest = line.strip_prefix("==> ")?;
    let (name, message) = rest.split_once(": ")?;
    let seconds = message.strip_suffix("s)")?.rsplit_once(" (")?.1;
    Some((name, seconds.parse().ok()?))
}

/// The live view's lines for the running steps, one each with its elapsed time. Pure, for its snapshot test.
pub fn live_lines(running: &BTreeMap<String, (Instant, String)>, now: Instant) -> Vec<String> {
    running
        .iter()
        .map(|(name, (started, message))| {
            format!(
                "{name:<17} {:>6.1}s  {message}",
                now.saturating_duration_since(*started).as_secs_f64()
            )
        })
        .collect()
}

struct Reporter {
    mode: Mode,
    plain: PlainView,
    logs: Option<PathBuf>,
    /// The step lines of the live view.
    live: Option<indicatif::MultiProgress>,
    bars: BTreeMap<String, indicatif::ProgressBar>,
    /// The step whose log a detail line goes to.
    current: Option<String>,
}

fn reporter() -> MutexGuard<'static, Reporter> {
    static REPORTER: OnceLock<Mutex<Reporter>> = OnceLock::new();
    REPORTER
        .get_or_init(|| {
            Mutex::new(Reporter {
                mode: Mode::Plain,
                plain: PlainView::new(false),
                logs: None,
                live: None,
                bars: BTreeMap::new(),
                current: None,
            })
        })
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Chooses how progress is shown for the rest of the process (the default is [`Mode::Plain`]).
pub fn configure(mode: Mode) {
    let mut reporter = reporter();
    reporter.mode = mode;
    reporter.plain = PlainView::new(mode == Mode::GitHub);
    reporter.live = (mode == Mode::Live).then(indicatif::MultiProgress::new);
}

/// Plain lines from now on: clears the live view and stops it, for what owns the terminal for long (the `dev` session
/// streaming its containers' output, an interactive one-off command).
pub fn plain_from_now() {
    let mut reporter = reporter();
    for (_, bar) in std::mem::take(&mut reporter.bars) {
        bar.finish_and_clear();
    }
    if reporter.mode == Mode::Live {
        reporter.mode = Mode::Plain;
        reporter.live = None;
    }
}

/// Starts writing every step's full log under `folder` (`target/dockyard/logs/<run>/`).
pub fn start_run(folder: &Path) {
    let mut reporter = reporter();
    reporter.logs = std::fs::create_dir_all(folder)
        .is_ok()
        .then(|| folder.to_path_buf());
}

/// Ends the run's view: closes a GitHub group, clears the live lines, and on failure names the logs.
pub fn finish_run(succeeded: bool) {
    let mut reporter = reporter();
    if let Some(line) = reporter.plain.close() {
        eprintln!("{line}");
    }
    for (_, bar) in std::mem::take(&mut reporter.bars) {
        bar.finish_and_clear();
    }
    let Some(logs) = reporter.logs.clone().filter(|_| !succeeded) else {
        return;
    };
    // The live view kept tool output off the screen: show the end of the failing step's log.
    if let (Mode::Live, Some(step)) = (reporter.mode, &reporter.current) {
        let log = logs.join(format!("{}.log", log_name(step)));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("--- last lines of {} ---", log.display());
        for line in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
            eprintln!("{line}");
        }
    }
    eprintln!("full logs: {}", logs.display());
}

/// How many lines of a failing step's log the live view shows.
const TAIL_LINES: usize = 20;

/// The log file name (without `.log`) of a step or output source.
fn log_name(owner: &str) -> String {
    owner.replace([' ', '/'], "-")
}

fn emit(event: Event) {
    let mut reporter = reporter();
    reporter.log(&event);
    match reporter.mode {
        Mode::Plain | Mode::GitHub => {
            for line in reporter.plain.render(&event) {
                eprintln!("{line}");
            }
        }
        Mode::Live => reporter.show_live(event),
    }
}

impl Reporter {
    /// Appends the event to `run.log` and to the log of the step (or source) it belongs to.
    fn log(&mut self, event: &Event) {
        let Some(folder) = self.logs.clone() else {
            return;
        };
        let owner = match event {
            Event::Step { name, .. } | Event::Done { name, .. } => {
                self.current = Some(name.clone());
                Some(name.clone())
            }
            Event::Output { source, .. } => Some(source.clone()),
            Event::Detail(_) | Event::Warning(_) => self.current.clone(),
        };
        let line = PlainView::new(false).render(event).join("\n");
        let files = ["run".to_owned()]
            .into_iter()
            .chain(owner.map(|owner| log_name(&owner)));
        for file in files {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(folder.join(format!("{file}.log")))
                .and_then(|mut log| writeln!(log, "{line}"));
            if written.is_err() {
                self.logs = None;
                return;
            }
        }
    }

    fn show_live(&mut self, event: Event) {
        let Some(live) = self.live.clone() else {
            return;
        };
        match event {
            Event::Step { name, message } => {
                let bar = self.bars.entry(name.clone()).or_insert_with(|| {
                    let bar = live.add(indicatif::ProgressBar::new_spinner());
                    let style = indicatif::ProgressStyle::with_template(
                        "{spinner} {prefix:<17} {elapsed:>4} {wide_msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
                    bar.set_style(style);
                    bar.set_prefix(name);
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(message);
            }
            Event::Detail(message) => {
                if let Some(bar) = self.current.as_ref().and_then(|name| self.bars.get(name)) {
                    bar.set_message(message);
                }
            }
            Event::Output { .. } => {}
            Event::Warning(message) => {
                let _ = live.println(format!("warning: {message}"));
            }
            Event::Done {
                name,
                message,
                elapsed,
            } => {
                if let Some(bar) = self.bars.remove(&name) {
                    bar.finish_and_clear();
                }
                let _ = live.println(format!(
                    "  {name:<17} {:>5.1}s  {message}",
                    elapsed.as_secs_f64()
                ));
            }
        }
    }
}

/// Announces a step.
pub fn step(name: &str, message: &str) {
    emit(Event::Step {
        name: name.to_owned(),
        message: message.to_owned(),
    });
}

/// A detail line under the current step.
pub fn detail(message: &str) {
    emit(Event::Detail(message.to_owned()));
}

/// A line of output from a tool or container, prefixed with where it comes from.
pub fn output(source: &str, line: &str) {
    emit(Event::Output {
        source: source.to_owned(),
        line: line.to_owned(),
    });
}

/// A warning that must not scroll by unnoticed.
pub fn warning(message: &str) {
    emit(Event::Warning(message.to_owned()));
}

/// Announces the end of a step with its duration.
pub fn done(name: &str, started: Instant, message: &str) {
    emit(Event::Done {
        name: name.to_owned(),
        message: message.to_owned(),
        elapsed: started.elapsed(),
    });
}

/// A result table (scan findings, smoke checks) on stdout, above the live view.
pub fn table(text: &str) {
    let reporter = reporter();
    match &reporter.live {
        Some(live) => live.suspend(|| print!("{text}")),
        None => print!("{text}"),
    }
}

/// A line of a one-off command's own output: stdout belongs to it.
pub fn command_output(line: &str) {
    println!("{line}");
}

/// Appends Markdown to `$GITHUB_STEP_SUMMARY` when running under GitHub Actions; a no-op elsewhere.
/// A summary that cannot be written is a warning, never a failure of the run.
pub fn append_step_summary(markdown: &str) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(markdown.as_bytes()));
    if let Err(error) = written {
        warning(&format!(
            "could not append to GITHUB_STEP_SUMMARY ({}): {error}",
            std::path::Path::new(&path).display()
        ));
    }
}

/// The printer behind a release's progress (`dockyard-release` prints nothing itself).
pub struct Printer;

impl dockyard_release::Progress for Printer {
    fn step(&self, name: &str, message: &str) {
        step(name, message);
    }
    fn detail(&self, message: &str) {
        detail(message);
    }
    fn output(&self, source: &str, line: &str) {
        output(source, line);
    }
    fn warning(&self, message: &str) {
        warning(message);
    }
    fn done(&self, name: &str, started: Instant, message: &str) {
        done(name, started, message);
    }
    fn step_summary(&self, markdown: &str) {
        append_step_summary(markdown);
    }
}
