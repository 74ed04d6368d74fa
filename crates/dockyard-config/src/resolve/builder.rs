//! `[builder]`: the image that installs the requirements and runs the tests.

use std::collections::BTreeMap;

use super::base::DEFAULT_BUILDER_BASE;
use super::{
    fail, resolve_base_name, resolve_existing_project_path, resolve_template, Origin,
    HINT_PROJECT_RELATIVE,
};
use crate::error::ConfigError;
use crate::model::{BaseImage, Builder, Project};
use crate::names::{is_dotted_python_path, is_valid_volume_name};
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

    let settings_module = match &builder.settings_module {
        Some(module) => {
            let text = module.get_ref();
            if !is_dotted_python_path(text) {
                return fail(
                    origin,
                    module.span(),
                    "builder.settings_module",
                    format!("`builder.settings_module` = {text:?}: expected a dotted Python module path"),
                    Some(
                        "name the settings the tests and collectstatic run with, for example \"mysite.settings.build\""
                            .to_owned(),
                    ),
                );
            }
            Some(text.clone())
        }
        None => None,
    };
    let env = match &builder.env {
        Some(env) => super::app::resolve_environment(origin, env, "builder.env")?,
        None => BTreeMap::new(),
    };

    Ok(Builder {
        dockerfile,
        context,
        base,
        ca_bundle,
        pip_cache_volume,
        settings_module,
        collectstatic_before_tests: builder.collectstatic_before_tests.unwrap_or(false),
        env,
    })
}
