//! Django's own verdict on the production settings: `manage.py check --deploy` (every warning fails, but those
//! `[smoke.silence]` accepts with a reason) and `DEBUG` off, read in a one-off container of the production image
//! with the app's environment while smoke waits for the app to answer.

use std::time::Instant;

use dockyard_engine::ContainerSpec;

use crate::environment::{self, SmokeEnvironment};
use crate::report::Failure;
use crate::{CheckResult, RunContext, SmokeError};

/// The group of the results.
pub const GROUP: &str = "django";
/// The check Django's deployment checks raise for `DEBUG = True`: reported as its own result, never silenced.
const DEBUG_ON: &str = "security.W018";
/// The line Django prints before the issues it found (also inside `SystemCheckError: ...` when there are errors).
const FOUND: &str = "System check identified";

/// What `manage.py check --deploy` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Whether DEBUG is on (Django's `security.W018`).
    pub debug: bool,
    /// The criticals, errors and warnings other than `security.W018`, in Django's order.
    pub issues: Vec<Issue>,
}

/// One issue Django's checks reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `security.W008`.
    pub id: String,
    /// Django's message.
    pub message: String,
}

/// The findings in the output of `manage.py check --deploy` (whatever its exit code), when it ran the checks:
/// the issues under `CRITICALS:`, `ERRORS:` and `WARNINGS:` (not `INFOS:`), each `obj: (id) message`.
pub fn parse(lines: &[String]) -> Option<Findings> {
    if !lines.iter().any(|line| line.contains(FOUND)) {
        return None;
    }
    let mut findings = Findings {
        debug: false,
        issues: Vec::new(),
    };
    let mut counted = true;
    for line in lines {
        let trimmed = line.trim();
        match trimmed {
            "CRITICALS:" | "ERRORS:" | "WARNINGS:" => counted = true,
            "INFOS:" | "DEBUGS:" => counted = false,
            _ => {}
        }
        let Some((id, message)) = issue_of(trimmed) else {
            continue;
        };
        if !counted {
            continue;
        }
        if id == DEBUG_ON {
            findings.debug = true;
        } else {
            findings.issues.push(Issue {
                id: id.to_owned(),
                message: message.to_owned(),
            });
        }
    }
    Some(findings)
}

/// `(id, message)` of a line `obj: (id) message` as Django prints an issue.
fn issue_of(line: &str) -> Option<(&str, &str)> {
    let open = line.find(": (")?;
    let rest = &line[open + 3..];
    let close = rest.find(") ")?;
    let id = &rest[..close];
    let (tag, code) = id.rsplit_once('.')?;
    let looks_like_an_id = !tag.is_empty()
        && code.len() >= 2
        && code.starts_with(['C', 'E', 'W', 'I', 'D'])
        && code[1..].chars().all(|c| c.is_ascii_digit());
    looks_like_an_id.then(|| (id, rest[close + 2..].trim()))
}

/// The results for `findings` less the ids `accepted` (or for checks that could not run: `exit_code` and the
/// output's `tail`).
pub fn results(
    outcome: Result<Findings, (i64, Vec<String>)>,
    accepted: &std::collections::BTreeMap<String, String>,
    started: Instant,
) -> Vec<CheckResult> {
    let silenced = accepted.len();
    let mut findings = match outcome {
        Ok(findings) => findings,
        Err((exit_code, tail)) => {
            let failure = Failure::new(
                "the production settings load and Django's checks run",
                format!("exit code {exit_code}"),
            )
            .with_detail(tail.join("\n"));
            return vec![CheckResult::timed(
                GROUP,
                "manage.py check --deploy",
                started,
                Some(failure),
            )];
        }
    };
    findings
        .issues
        .retain(|issue| !accepted.contains_key(&issue.id));
    let debug = findings.debug.then(|| {
        Failure::new("DEBUG = False", "DEBUG = True").with_detail(
            "hint: DEBUG on shows tracebacks and settings to every visitor; set it off in the production settings \
             (or the variable they read it from)",
        )
    });
    let issues = (!findings.issues.is_empty()).then(|| {
        let mut ids: Vec<&str> = Vec::new();
        for issue in &findings.issues {
            if !ids.contains(&issue.id.as_str()) {
                ids.push(&issue.id);
            }
        }
        let mut detail: Vec<String> = findings
            .issues
            .iter()
            .map(|issue| format!("{}: {}", issue.id, issue.message))
            .collect();
        detail.push(format!(
            "hint: fix the settings, or accept a warning with its reason: [smoke.silence] \"{}\" = \"why it does not \
             apply\"",
            ids[0]
        ));
        Failure::new(
            format!("no warnings ({silenced} accepted in [smoke.silence])"),
            ids.join(", "),
        )
        .with_detail(detail.join("\n"))
    });
    vec![
        CheckResult::timed(GROUP, "DEBUG is off", started, debug),
        CheckResult::timed(GROUP, "manage.py check --deploy", started, issues),
    ]
}

/// The one-off container that runs `manage.py check --deploy` in `environment` (through manage.py, so whatever it
/// sets up before Django does, such as a project's monkey patches, is in place); `None` with
/// `[smoke] deploy_checks = false`.
pub(crate) fn container(
    run: &RunContext<'_>,
    environment: &SmokeEnvironment,
) -> Option<ContainerSpec> {
    if !run.config.smoke.deploy_checks {
        return None;
    }
    let command = ["python", "manage.py", "check", "--deploy"]
        .map(str::to_owned)
        .to_vec();
    Some(environment.app_container(run, "django-checks", command))
}

/// Runs the checks in `container` (see [`container`]) and judges what they found; no results without one.
pub(crate) async fn run(
    run: &RunContext<'_>,
    container: Option<&ContainerSpec>,
) -> Result<Vec<CheckResult>, SmokeError> {
    let Some(container) = container else {
        return Ok(Vec::new());
    };
    let started = Instant::now();
    let mut output = Vec::new();
    let (exit_code, tail) = environment::run_to_end(run, container, &mut |line| {
        run.progress.output("django checks", line);
        output.push(line.to_owned());
    })
    .await?;
    // Errors make `check` exit 1 after listing them: judged like warnings. No list at all: the settings did not load.
    let outcome = match parse(&output) {
        Some(findings) => Ok(findings),
        None if exit_code == 0 => Ok(Findings {
            debug: false,
            issues: Vec::new(),
        }),
        None => Err((exit_code, tail)),
    };
    Ok(results(outcome, &run.config.smoke.silence, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn findings_are_read_from_django_s_report() {
        let output = lines(
            "Monkey patching `language_code_re`\n\
             System check identified some issues:\n\
             \n\
             WARNINGS:\n\
             ?: (security.W012) SESSION_COOKIE_SECURE is not set to True.\n\
             \tHINT: set it\n\
             ?: (security.W018) You should not have DEBUG set to True in deployment.\n\
             \n\
             INFOS:\n\
             app.Note: (models.I001) just so you know\n\
             \n\
             System check identified 3 issues (0 silenced).",
        );
        let findings = parse(&output).expect("findings");
        assert!(findings.debug);
        assert_eq!(
            findings.issues,
            [Issue {
                id: "security.W012".to_owned(),
                message: "SESSION_COOKIE_SECURE is not set to True.".to_owned(),
            }]
        );
        assert_eq!(
            parse(&lines("System check identified no issues (0 silenced).")),
            Some(Findings {
                debug: false,
                issues: Vec::new(),
            })
        );
        assert_eq!(parse(&lines("Traceback (most recent call last):")), None);
        // Errors: `SystemCheckError: System check identified some issues:` then the list.
        let errors = lines("SystemCheckError: System check identified some issues:\n\nERRORS:\n?: (translation.E002) invalid language code 'af-7.2.x'.");
        assert_eq!(parse(&errors).unwrap().issues[0].id, "translation.E002");
    }

    #[test]
    fn debug_on_and_each_warning_not_accepted_fail_with_a_hint() {
        let started = Instant::now();
        let accepted = std::collections::BTreeMap::from([(
            "security.W012".to_owned(),
            "cookies are set secure by the proxy".to_owned(),
        )]);
        let issue = |id: &str| Issue {
            id: id.to_owned(),
            message: "m".to_owned(),
        };
        let clean = results(
            Ok(Findings {
                debug: false,
                issues: vec![issue("security.W012")],
            }),
            &accepted,
            started,
        );
        assert!(clean.iter().all(|result| result.passed), "{clean:?}");
        let failing = results(
            Ok(Findings {
                debug: true,
                issues: vec![issue("security.W012"), issue("security.W008")],
            }),
            &accepted,
            started,
        );
        assert_eq!(failing[0].actual, "DEBUG = True");
        assert_eq!(failing[1].actual, "security.W008");
        assert!(
            failing[1]
                .detail
                .contains("[smoke.silence] \"security.W008\""),
            "{}",
            failing[1].detail
        );
        let broken = results(
            Err((1, vec!["ImproperlyConfigured".to_owned()])),
            &accepted,
            started,
        );
        assert_eq!(
            (broken.len(), broken[0].actual.as_str()),
            (1, "exit code 1")
        );
    }
}
