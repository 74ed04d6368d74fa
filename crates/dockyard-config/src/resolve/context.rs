//! `[context]`: what to leave out of the app's build context.

use super::{fail, resolve_app_relative_path, Origin, HINT_APP_RELATIVE};
use crate::error::ConfigError;
use crate::model::{App, ContextRules};
use crate::paths::{check_path_exists, ExpectedEntry, PathCheck};
use crate::raw;

pub(super) fn resolve_context_rules(
    origin: Origin<'_>,
    context: Option<&raw::Context>,
    app: &App,
) -> Result<ContextRules, ConfigError> {
    let written_dockerignore = context.and_then(|context| context.dockerignore.as_ref());
    let dockerignore = match written_dockerignore {
        Some(dockerignore) => {
            let key = "context.dockerignore";
            let relative = resolve_app_relative_path(origin, dockerignore, key)?;
            let absolute = app.path.join(relative);
            let check = PathCheck {
                source: origin.source,
                span: dockerignore.span(),
                key,
                root: origin.root,
                note: HINT_APP_RELATIVE,
            };
            check_path_exists(&check, &absolute, ExpectedEntry::File)?;
            Some(absolute)
        }
        None => {
            let default = app.path.join(".dockerignore");
            default.is_file().then_some(default)
        }
    };

    let mut exclude = Vec::new();
    let written_exclude = context.and_then(|context| context.exclude.as_ref());
    for (index, pattern) in written_exclude
        .into_iter()
        .flat_map(|list| list.get_ref().iter())
        .enumerate()
    {
        if pattern.get_ref().trim().is_empty() {
            let key = format!("context.exclude[{index}]");
            return fail(
                origin,
                pattern.span(),
                &key,
                format!("`{key}` is empty"),
                Some("write a gitignore-style pattern such as \"*.sqlite3\"".to_owned()),
            );
        }
        exclude.push(pattern.get_ref().clone());
    }

    Ok(ContextRules {
        dockerignore,
        exclude,
    })
}
