//! The cache decision: one function says whether a step runs or is skipped, for the plan and for the run alike.
//!
//! The plan feeds it what `state.json` recorded; the run feeds it what the engine or the file system holds (an
//! image's inputs label, a tarball's sha256) together with the record that explains a difference.

use serde::Serialize;

use crate::digest::Inputs;

/// What a step will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Its inputs changed or it never ran: it runs.
    Run,
    /// Its inputs are unchanged since the last run: it is skipped.
    Cached,
}

/// What is known of an earlier output of the step.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// No earlier output.
    Nothing,
    /// The inputs cannot be known yet (the plan, before an earlier step resolved them); the text says why.
    Unresolved(&'static str),
    /// An earlier output exists, made from inputs with digest `digest`; `inputs` is the record of those inputs
    /// when one is kept (it names what changed).
    Earlier {
        /// The digest of the inputs the earlier output was made from.
        digest: &'a str,
        /// Those inputs, part by part, when recorded.
        inputs: Option<&'a Inputs>,
    },
}

/// The decision, with the reason shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Run or cached.
    pub action: Action,
    /// Why, in a few words.
    pub reason: String,
}

/// Runs a step unless an earlier output was made from the same inputs (and `force` is off).
pub fn decide(inputs: &Inputs, evidence: Evidence<'_>, force: bool) -> Decision {
    let run = |reason: String| Decision {
        action: Action::Run,
        reason,
    };
    match evidence {
        _ if force => run("--force".to_owned()),
        Evidence::Unresolved(why) => run(why.to_owned()),
        Evidence::Nothing => run("no earlier run".to_owned()),
        Evidence::Earlier { digest, .. } if digest == inputs.digest() => Decision {
            action: Action::Cached,
            reason: "inputs unchanged since the last run".to_owned(),
        },
        Evidence::Earlier {
            inputs: Some(previous),
            ..
        } => run(format!(
            "changed: {}",
            inputs.changed_since(previous).join(", ")
        )),
        Evidence::Earlier { inputs: None, .. } => run("inputs changed".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(evidence: Evidence<'_>, force: bool, expected: (Action, &str)) {
        let inputs = Inputs::default().with("source", "1").with("base", "2");
        let decision = decide(&inputs, evidence, force);
        assert_eq!((decision.action, decision.reason.as_str()), expected);
    }

    #[test]
    fn decisions() {
        let same = Inputs::default().with("source", "1").with("base", "2");
        let other = Inputs::default().with("source", "0").with("base", "2");
        let (same_digest, other_digest) = (same.digest(), other.digest());
        check(Evidence::Nothing, false, (Action::Run, "no earlier run"));
        check(
            Evidence::Unresolved("its base image is resolved first"),
            false,
            (Action::Run, "its base image is resolved first"),
        );
        let earlier_same = Evidence::Earlier {
            digest: &same_digest,
            inputs: Some(&same),
        };
        check(
            earlier_same,
            false,
            (Action::Cached, "inputs unchanged since the last run"),
        );
        check(earlier_same, true, (Action::Run, "--force"));
        check(
            Evidence::Earlier {
                digest: &other_digest,
                inputs: Some(&other),
            },
            false,
            (Action::Run, "changed: source"),
        );
        check(
            Evidence::Earlier {
                digest: &other_digest,
                inputs: None,
            },
            false,
            (Action::Run, "inputs changed"),
        );
    }
}
