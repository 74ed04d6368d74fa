//! Records of what the reliability suite tried (inputs, faults, load, secrets) and the RELIABILITY.md table made from them.
//!
//! A test calls [`record`] after its assertions hold, so a record means "tried, and the outcome was the
//! expected one". Each case is one small JSON file under `target/reliability/<category>/<case>.json`,
//! overwritten on every run, so parallel tests in many test binaries never contend for one file.
//! `cargo xtask reliability` renders the records into RELIABILITY.md; `--check` fails when a case the
//! committed table lists was not recorded by this run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where records go: `DOCKYARD_RELIABILITY_DIR`, else `<target dir>/reliability` of the workspace.
pub const DIR_ENV: &str = "DOCKYARD_RELIABILITY_DIR";

/// What kind of thing a case tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A broken deploy.toml.
    BadConfig,
    /// A source tree with something odd in it (symlinks, secrets, FIFOs, non-UTF-8 names, ...).
    BadSourceTree,
    /// A builder whose export tries to escape or smuggle (.., absolute paths, links, devices, setuid).
    HostileBuilder,
    /// A fault injected while the pipeline runs (engine, builder, app, nginx, registry, Ctrl-C).
    Fault,
    /// Concurrent runs and request load.
    Load,
    /// A planted sentinel secret that must never reach an artefact.
    Secret,
    /// The pipeline against an engine reached over TCP.
    RemoteEngine,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::BadConfig,
        Category::BadSourceTree,
        Category::HostileBuilder,
        Category::Fault,
        Category::Load,
        Category::Secret,
        Category::RemoteEngine,
    ];

    /// The folder name, also the serde name.
    pub fn slug(self) -> &'static str {
        match self {
            Category::BadConfig => "bad-config",
            Category::BadSourceTree => "bad-source-tree",
            Category::HostileBuilder => "hostile-builder",
            Category::Fault => "fault",
            Category::Load => "load",
            Category::Secret => "secret",
            Category::RemoteEngine => "remote-engine",
        }
    }

    /// The section title in RELIABILITY.md.
    pub fn title(self) -> &'static str {
        match self {
            Category::BadConfig => "Bad configuration",
            Category::BadSourceTree => "Bad source trees",
            Category::HostileBuilder => "A hostile builder",
            Category::Fault => "Faults",
            Category::Load => "Load",
            Category::Secret => "Secrets",
            Category::RemoteEngine => "Remote engine",
        }
    }
}

/// One case the suite tried and the outcome it asserted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub category: Category,
    /// A short, unique name within the category (becomes the file name).
    pub case: String,
    /// What was tried, one line.
    pub tried: String,
    /// What happened (and was asserted), one line.
    pub outcome: String,
    /// The test that tried it, `crate::module::test`.
    pub test: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReliabilityError {
    #[error("cannot read reliability records in {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reliability record {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Records one case: call it after the test's assertions held. Panics when the record cannot be
/// written, since a test that cannot leave its record has not done its job.
pub fn record(category: Category, case: &str, tried: &str, outcome: &str, test: &str) {
    let dir = records_dir();
    write_record(
        &dir,
        &Record {
            category,
            case: case.to_string(),
            tried: one_line(tried),
            outcome: one_line(outcome),
            test: test.to_string(),
        },
    )
    .unwrap_or_else(|error| {
        panic!(
            "cannot write reliability record in {}: {error}",
            dir.display()
        )
    });
}

/// Writes one record under `dir`.
pub fn write_record(dir: &Path, record: &Record) -> std::io::Result<()> {
    let folder = dir.join(record.category.slug());
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(format!("{}.json", slug(&record.case)));
    let temporary = folder.join(format!(
        ".{}.{}.tmp",
        slug(&record.case),
        std::process::id()
    ));
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &path)
}

/// Every record under `dir`, ordered by category then case; an absent folder holds none.
pub fn load_records(dir: &Path) -> Result<Vec<Record>, ReliabilityError> {
    let mut records = Vec::new();
    for category in Category::ALL {
        let folder = dir.join(category.slug());
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ReliabilityError::Read {
                    path: folder,
                    source,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(|source| ReliabilityError::Read {
                path: folder.clone(),
                source,
            })?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| ReliabilityError::Read {
                path: path.clone(),
                source,
            })?;
            let record: Record =
                serde_json::from_str(&text).map_err(|source| ReliabilityError::Parse {
                    path: path.clone(),
                    source,
                })?;
            records.push(record);
        }
    }
    records.sort_by(|a, b| (a.category, &a.case).cmp(&(b.category, &b.case)));
    Ok(records)
}

/// The RELIABILITY.md text: a count per category, then one table per category.
pub fn render_markdown(records: &[Record]) -> String {
    let mut by_category: BTreeMap<Category, Vec<&Record>> = BTreeMap::new();
    for record in records {
        by_category.entry(record.category).or_default().push(record);
    }
    let mut text = String::new();
    text.push_str("# Reliability\n\n");
    text.push_str(
        "What the test suite tried against Dockyard, and the outcome each test asserted. \
         Generated by `cargo xtask reliability` from the records the tests leave in \
         `target/reliability/` (a record is written only after the test's assertions held); \
         `cargo xtask reliability --check` in `.ci/run` fails when a case listed here was not \
         recorded by the run. Do not edit by hand.\n\n",
    );
    text.push_str("| Category | Cases |\n|---|---:|\n");
    for category in Category::ALL {
        let count = by_category.get(&category).map_or(0, Vec::len);
        let _ = writeln!(text, "| {} | {count} |", category.title());
    }
    let _ = writeln!(text, "| **Total** | **{}** |", records.len());
    for category in Category::ALL {
        let Some(cases) = by_category.get(&category) else {
            continue;
        };
        let _ = write!(
            text,
            "\n## {}\n\n| Case | Tried | Outcome | Test |\n|---|---|---|---|\n",
            category.title()
        );
        for record in cases {
            let _ = writeln!(
                text,
                "| {} | {} | {} | `{}` |",
                cell(&record.case),
                cell(&record.tried),
                cell(&record.outcome),
                record.test
            );
        }
    }
    text
}

/// The `(category, case)` pairs a rendered RELIABILITY.md lists, for `--check`.
pub fn listed_cases(markdown: &str) -> Vec<(Category, String)> {
    let mut cases = Vec::new();
    let mut current = None;
    for line in markdown.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            current = Category::ALL
                .into_iter()
                .find(|c| c.title() == title.trim());
            continue;
        }
        let Some(category) = current else { continue };
        let Some(rest) = line.strip_prefix("| ") else {
            continue;
        };
        let case = rest.split(" | ").next().unwrap_or_default().trim();
        if case == "Case" || case.starts_with("---") || case.is_empty() {
            continue;
        }
        cases.push((category, case.replace("\\|", "|")));
    }
    cases
}

/// The records folder: `DOCKYARD_RELIABILITY_DIR`, else `<target>/reliability`, where `<target>` is
/// `CARGO_TARGET_DIR` or the `target/` beside the workspace's Cargo.lock (found from the test's
/// `CARGO_MANIFEST_DIR` or the working directory).
pub fn records_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV) {
        return PathBuf::from(dir);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        let target = PathBuf::from(target);
        if target.is_absolute() {
            return target.join("reliability");
        }
    }
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let workspace = start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(&start)
        .to_path_buf();
    workspace.join("target").join("reliability")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn slug(case: &str) -> String {
    let mut slug: String = case
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_markdown_table() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            Record {
                category: Category::Fault,
                case: "engine unreachable".into(),
                tried: "DOCKER_HOST=tcp://127.0.0.1:1".into(),
                outcome: "exit 4 | hint".into(),
                test: "it::faults::engine_unreachable".into(),
            },
            Record {
                category: Category::BadConfig,
                case: "unknown key".into(),
                tried: "[app] colour = 1".into(),
                outcome: "deploy.toml:3:1".into(),
                test: "it::broken::unknown_key".into(),
            },
        ];
        for record in &records {
            write_record(dir.path(), record).unwrap();
        }
        let loaded = load_records(dir.path()).unwrap();
        assert_eq!(loaded, vec![records[1].clone(), records[0].clone()]);
        let markdown = render_markdown(&loaded);
        assert!(markdown.contains("| Faults | 1 |"), "{markdown}");
        assert!(markdown.contains("exit 4 \\| hint"), "{markdown}");
        assert_eq!(
            listed_cases(&markdown),
            vec![
                (Category::BadConfig, "unknown key".to_string()),
                (Category::Fault, "engine unreachable".to_string()),
            ]
        );
    }

    #[test]
    fn a_case_name_becomes_a_safe_file_name() {
        assert_eq!(
            slug("Ctrl-C during export / builder"),
            "ctrl-c-during-export-builder"
        );
        assert_eq!(slug("../etc/passwd"), "etc-passwd");
    }
}
