//! Dockerfile templates: `{{ name }}` placeholders filled from deploy.toml (the values every template may use), so the
//! exported context needs no build args.

use std::collections::BTreeMap;
use std::path::Path;

use dockyard_config::container_paths::APP_DIR;
use dockyard_config::DeployConfig;

use crate::PipelineError;

/// Replaces every `{{ name }}` in `text` with `values[name]`.
/// An unknown name is an error naming the file, the line and the names that exist.
pub fn render(
    file: &Path,
    text: &str,
    values: &BTreeMap<&str, String>,
) -> Result<String, PipelineError> {
    let mut res = String::with_capacity(text.len());
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            res.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(template_error(
                    file,
                    line_index,
                    "unclosed `{{`".to_owned(),
                    values,
                ));
            };
            let name = after[..end].trim();
            // The documentation of the template syntax itself (`{{ name }}`) is left alone.
            if name == "name" {
                res.push_str(&rest[start..start + 2 + end + 2]);
            } else {
                let value = values.get(name).ok_or_else(|| {
                    template_error(
                        file,
                        line_index,
                        format!("unknown placeholder `{{{{ {name} }}}}`"),
                        values,
                    )
                })?;
                res.push_str(value);
            }
            rest = &after[end + 2..];
        }
        res.push_str(rest);
    }
    Ok(res)
}

fn template_error(
    file: &Path,
    line_index: usize,
    message: String,
    values: &BTreeMap<&str, String>,
) -> PipelineError {
    let known: Vec<&str> = values.keys().copied().collect();
    PipelineError::Template {
        file: file.to_path_buf(),
        line: line_index + 1,
        message,
        known: known.join(", "),
    }
}

/// The production template's lines for `[assets]` outputs outside the app folder: the builder leaves each under
/// `rootfs/` at its container path (`rootfs/public`), and only the declared folders are copied, so nothing else the
/// builder wrote there reaches the image; a comment when there are none.
fn outside_outputs_copy(config: &DeployConfig) -> String {
    let lines: Vec<String> = config
        .assets
        .iter()
        .flat_map(|assets| assets.outputs_outside())
        .map(|container| {
            let container = container.to_string_lossy().replace('\\', "/");
            format!("COPY rootfs{container}/ {container}/")
        })
        .collect();
    if lines.is_empty() {
        "# (no [assets] output outside the app folder)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// The placeholders Dockerfile templates may use.
pub fn values(config: &DeployConfig) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("project_name", config.project.name.clone()),
        ("settings_module", config.app.settings_module.clone()),
        ("wsgi", config.app.wsgi.clone()),
        ("port", config.app.port.to_string()),
        ("health_path", config.app.health_path.clone()),
        ("health_host", config.smoke.host.clone()),
        (
            "health_scheme",
            if config.smoke.https { "https" } else { "http" }.to_owned(),
        ),
        ("static_root", config.app.static_root.to_string()),
        ("app_dir", APP_DIR.to_owned()),
        (
            "static_manifest",
            format!(
                "{}/staticfiles.json",
                config.app.static_root.in_container(APP_DIR)
            ),
        ),
        ("outside_outputs", outside_outputs_copy(config)),
        ("user", config.production.user.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("port", "8000".to_owned()),
            ("wsgi", "sample.wsgi:application".to_owned()),
        ])
    }

    #[test]
    fn placeholders_are_filled() {
        let text = "EXPOSE {{ port }}\nCMD [\"gunicorn\", \"{{wsgi}}\"]\n# {{ name }} stays\n";
        let rendered = render(Path::new("Dockerfile"), text, &values()).unwrap();
        assert_eq!(
            rendered,
            "EXPOSE 8000\nCMD [\"gunicorn\", \"sample.wsgi:application\"]\n# {{ name }} stays\n"
        );
    }

    #[test]
    fn unknown_placeholder_names_file_and_line() {
        let error = render(
            Path::new("docker/x.Dockerfile"),
            "FROM a\nEXPOSE {{ prot }}\n",
            &values(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "docker/x.Dockerfile:2: unknown placeholder `{{ prot }}` (known: port, wsgi)"
        );
    }
}
