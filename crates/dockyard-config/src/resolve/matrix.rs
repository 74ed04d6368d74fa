//! `[matrix]`: the Pythons the builder's tests run on, the shipped one (`[python] version`) among them, and the
//! builder base of each other one.

use std::collections::BTreeMap;

use toml::Spanned;

use super::base::{add_packages, built_in_builder, DEFAULT_BUILDER_BASE};
use super::python::python_hint;
use super::{fail, Origin};
use crate::choices::PythonVersion;
use crate::error::ConfigError;
use crate::model::{BaseImage, MatrixPython};
use crate::raw;

/// What the matrix needs from the rest of the file.
pub(super) struct Shipped<'a> {
    /// `[python] version`: the Python the images ship.
    pub python: PythonVersion,
    /// The shipped builder's base name.
    pub builder_base: &'a str,
    /// The bases deploy.toml writes itself.
    pub written_bases: &'a [&'a String],
    /// `[assets] runs_in = "builder"`: the built-in builder brings Node.
    pub node_in_builder: bool,
    /// The packages added to the built-in builder (`production.packages`, `builder.packages`), each with its key.
    pub builder_packages: &'a [(&'a str, Option<&'a raw::SpannedStrings>)],
}

/// The name of the base the builder of `python` starts from in a matrix: `builder-py313` for `builder` and 3.13.
pub(super) fn matrix_base_name(builder_base: &str, python: PythonVersion) -> String {
    format!("{builder_base}-{}", python.short_name())
}

/// `[matrix] python`: every other Python with its builder base, added to `bases` (a written `[base.<name>]` as it is,
/// else Dockyard's built-in builder of that Python's suite with the shipped builder's added packages).
pub(super) fn resolve_matrix(
    origin: Origin<'_>,
    matrix: Option<&Spanned<raw::Matrix>>,
    shipped: &Shipped<'_>,
    bases: &mut BTreeMap<String, BaseImage>,
) -> Result<Vec<MatrixPython>, ConfigError> {
    let Some(matrix) = matrix else {
        return Ok(Vec::new());
    };
    let example = format!(
        "python = [{}]",
        PythonVersion::ALL
            .iter()
            .map(|python| format!("\"{python}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Some(listed) = matrix.get_ref().python.as_ref() else {
        return fail(
            origin,
            matrix.span(),
            "matrix",
            "`[matrix]` names no Python".to_owned(),
            Some(format!(
                "list the Pythons the tests run on, the shipped one included: {example}; or leave `[matrix]` out"
            )),
        );
    };
    if listed.get_ref().is_empty() {
        return fail(
            origin,
            listed.span(),
            "matrix.python",
            "`matrix.python` is empty".to_owned(),
            Some(format!(
                "list the Pythons the tests run on, the shipped one included: {example}; or leave `[matrix]` out"
            )),
        );
    }
    let mut versions: Vec<(PythonVersion, &Spanned<String>, String)> = Vec::new();
    for (index, written) in listed.get_ref().iter().enumerate() {
        let key = format!("matrix.python[{index}]");
        let text = written.get_ref();
        let Some(python) = PythonVersion::from_name(text) else {
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {text:?}: not a Python version Dockyard's built-in bases bring"),
                Some(python_hint(text)),
            );
        };
        if versions.iter().any(|(earlier, _, _)| *earlier == python) {
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {text:?}: listed twice"),
                Some("each Python runs the tests once; remove this entry".to_owned()),
            );
        }
        versions.push((python, written, key));
    }
    if !versions
        .iter()
        .any(|(python, _, _)| *python == shipped.python)
    {
        return fail(
            origin,
            listed.span(),
            "matrix.python",
            format!(
                "`matrix.python` leaves out {}, the Python the images ship (`[python] version`)",
                shipped.python
            ),
            Some(format!(
                "add \"{}\" to the list, or set `[python] version` to the listed Python the images should ship",
                shipped.python
            )),
        );
    }
    let mut resolved = Vec::new();
    for (python, written, key) in versions {
        if python == shipped.python {
            continue;
        }
        let name = matrix_base_name(shipped.builder_base, python);
        let written_base = shipped.written_bases.contains(&&name);
        let built_in_builder_base = shipped.builder_base == DEFAULT_BUILDER_BASE
            && !shipped
                .written_bases
                .contains(&&shipped.builder_base.to_owned());
        if !written_base {
            if !built_in_builder_base {
                return fail(
                    origin,
                    written.span(),
                    &key,
                    format!(
                        "`{key}` = \"{python}\": the builder starts from deploy.toml's own base `{}`, whose Python {python} twin Dockyard cannot know",
                        shipped.builder_base
                    ),
                    Some(format!(
                        "write a `[base.{name}]` table with an image (or a bootstrap recipe) that brings Python {python}, or use Dockyard's built-in builder base (leave `[base.{}]` out)",
                        shipped.builder_base
                    )),
                );
            }
            bases.insert(
                name.clone(),
                built_in_builder(python, shipped.node_in_builder, &name),
            );
            for (packages_key, packages) in shipped.builder_packages {
                if let Some(packages) = packages {
                    add_packages(origin, bases, &name, true, packages_key, packages)?;
                }
            }
        }
        resolved.push(MatrixPython {
            python,
            builder_base: name,
        });
    }
    Ok(resolved)
}
