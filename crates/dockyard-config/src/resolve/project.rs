//! `[project]`: the name, version and source URL.

use super::{fail, Origin};
use crate::error::ConfigError;
use crate::image_reference::is_valid_tag;
use crate::model::Project;
use crate::names::{
    is_http_url, is_valid_project_name, suggest_project_name, MAXIMUM_PROJECT_NAME_LENGTH,
};
use crate::raw;

const DEFAULT_VERSION: &str = "0.0.0-dev";

pub(super) fn resolve_project(
    origin: Origin<'_>,
    project: &raw::Project,
) -> Result<Project, ConfigError> {
    let name = project.name.get_ref();
    if name.len() > MAXIMUM_PROJECT_NAME_LENGTH {
        return fail(
            origin,
            project.name.span(),
            "project.name",
            format!(
                "`project.name` is {} characters long, more than {MAXIMUM_PROJECT_NAME_LENGTH}",
                name.len()
            ),
            Some("the name is used in image names and file names; shorten it".to_owned()),
        );
    }
    if !is_valid_project_name(name) {
        let suggestion = match suggest_project_name(name) {
            Some(suggestion) => format!(", for example {suggestion:?}"),
            None => String::new(),
        };
        return fail(
            origin,
            project.name.span(),
            "project.name",
            format!(
                "`project.name` = {name:?}: use lowercase letters, digits, `.`, `_` and `-`, \
                 starting with a letter or digit"
            ),
            Some(format!(
                "the name is used in image names and file names{suggestion}"
            )),
        );
    }

    let version = match &project.version {
        Some(version) => {
            if !is_valid_tag(version.get_ref()) {
                return fail(
                    origin,
                    version.span(),
                    "project.version",
                    format!(
                        "`project.version` = {:?}: the version must be usable as an image tag",
                        version.get_ref()
                    ),
                    Some(
                        "use letters, digits, `_`, `.` and `-` (up to 128, not starting with `.` \
                         or `-`), for example \"1.2.0\""
                            .to_owned(),
                    ),
                );
            }
            version.get_ref().clone()
        }
        None => DEFAULT_VERSION.to_owned(),
    };

    let source = match &project.source {
        Some(source) => {
            if !is_http_url(source.get_ref()) {
                return fail(
                    origin,
                    source.span(),
                    "project.source",
                    format!(
                        "`project.source` = {:?}: expected an http(s) URL",
                        source.get_ref()
                    ),
                    Some("for example \"https://github.com/owner/repository\"".to_owned()),
                );
            }
            Some(source.get_ref().clone())
        }
        None => None,
    };

    Ok(Project {
        name: name.clone(),
        version,
        source,
    })
}
