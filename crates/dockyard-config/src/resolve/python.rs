//! `[python]`: the Python version, which chooses the Debian suite of the built-in base images.

use super::{fail, Origin};
use crate::choices::PythonVersion;
use crate::error::ConfigError;
use crate::raw;
use crate::suggestions::{closest_candidate, render_backticked_list};

/// `[python] version`, [`PythonVersion::DEFAULT`] when not written.
pub(super) fn resolve_python(
    origin: Origin<'_>,
    python: Option<&raw::Python>,
) -> Result<PythonVersion, ConfigError> {
    let Some(written) = python.and_then(|python| python.version.as_ref()) else {
        return Ok(PythonVersion::DEFAULT);
    };
    let text = written.get_ref();
    if let Some(version) = PythonVersion::from_name(text) {
        return Ok(version);
    }
    let all = render_backticked_list(PythonVersion::NAMES);
    let offer = format!(
        "the versions on offer are {all}, each Debian's own python3 (3.11 in bookworm, 3.13 in \
         trixie); for another Python, write [base.*] tables with images that bring it"
    );
    let trimmed = text
        .trim()
        .trim_start_matches("python")
        .trim_start_matches('v');
    let hint = match closest_candidate(trimmed, PythonVersion::NAMES.iter().copied()) {
        Some(suggestion) if PythonVersion::from_name(trimmed).is_some() => {
            format!("write \"{suggestion}\"; {offer}")
        }
        Some(suggestion) => format!("did you mean `{suggestion}`? {offer}"),
        None => offer,
    };
    fail(
        origin,
        written.span(),
        "python.version",
        format!(
            "`python.version` = {text:?}: not a Python version Dockyard's built-in bases bring"
        ),
        Some(hint),
    )
}
