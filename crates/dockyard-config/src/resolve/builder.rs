//! `[builder]`: the image that installs the requirements and runs the tests.

use std::collections::BTreeMap;

use super::base::DEFAULT_BUILDER_BASE;
use super::{
    fail, resolve_base_name, resolve_existing_project_path, resolve_template, Origin,
    HINT_PROJECT_RELATIVE,
};
use crate::error::ConfigError;
use crate::model::{BaseImage, Builder, Project};
use crate::names::is_valid_volume_name;
use crate::paths::{check_path_exists, normalize_lexically, ExpectedEntry, PathCheck};
use crate::raw;
use crate::templates::{self, TemplateFolder};

pub(super) fn resolve_builder(
    origin: Origin<'_>,
    builder: &raw::Builder,
    project: &Project,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<Builder, ConfigError> {
    let dockerfile = resolve_template(
        origin,
        builder.dockerfile.as_ref(),
        "builder.dockerfile",
        templates::BUILDER_DOCKERFILE,
    )?;
    let context = match &builder.context {
        Some(context) => TemplateFolder::Folder(resolve_existing_project_path(
            origin,
            context,
            "builder.context",
            ExpectedEntry::Folder,
        )?),
        None => templates::BUILDER_CONTEXT,
    };
    let base = resolve_base_name(
        origin,
        builder.base.as_ref(),
        "builder.base",
        DEFAULT_BUILDER_BASE,
        bases,
    )?;

    let ca_bundle = match &builder.ca_bundle {
        Some(ca_bundle) => {
            let written = ca_bundle.get_ref();
            if written.is_empty() {
                return fail(
                    origin,
                    ca_bundle.span(),
                    "builder.ca_bundle",
                    "`builder.ca_bundle` is empty".to_owned(),
                    Some("name a CA bundle file, or leave the key out".to_owned()),
                );
            }
            let absolute = normalize_lexically(&origin.root.join(written));
            let check = PathCheck {
                source: origin.source,
                span: ca_bundle.span(),
                key: "builder.ca_bundle",
                root: origin.root,
                note: HINT_PROJECT_RELATIVE,
            };
            check_path_exists(&check, &absolute, ExpectedEntry::File)?;
            Some(absolute)
        }
        None => None,
    };

    let pip_cache_volume = match &builder.pip_cache_volume {
        Some(volume) => {
            if !is_valid_volume_name(volume.get_ref()) {
                return fail(
                    origin,
                    volume.span(),
                    "builder.pip_cache_volume",
                    format!(
                        "`builder.pip_cache_volume` = {:?}: not a valid Docker volume name",
                        volume.get_ref()
                    ),
                    Some(format!(
                        "use letters, digits, `_`, `.` and `-`, at least two characters, \
                         starting with a letter or digit, for example \"{}-pip-cache\"",
                        project.name
                    )),
                );
            }
            volume.get_ref().clone()
        }
        None => format!("{}-pip-cache", project.name),
    };

    Ok(Builder {
        dockerfile,
        context,
        base,
        ca_bundle,
        pip_cache_volume,
    })
}
