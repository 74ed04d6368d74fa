//! The plan as text: the resolved configuration in a few lines, then each step with whether it runs or is cached, and
//! why.

use std::path::Path;

use super::{short, Action, Plan};

impl Plan {
    /// The plan as plain text, paths shown relative to deploy.toml's folder.
    pub fn render_text(&self) -> String {
        let config = &self.config;
        let relative = |path: &Path| {
            path.strip_prefix(&config.root)
                .unwrap_or(path)
                .display()
                .to_string()
        };
        let mut res = String::new();
        let mut line = |text: String| {
            res.push_str(&text);
            res.push('\n');
        };
        line(format!(
            "plan for {} {} ({})",
            config.project.name,
            config.project.version,
            relative(&config.file)
        ));
        line(format!("  revision   {}", self.provenance.revision));
        line(format!(
            "  app        {} ({}, {}, port {}, health {})",
            relative(&config.app.path),
            config.app.settings_module,
            config.app.wsgi,
            config.app.port,
            config.app.health_path
        ));
        for (name, base) in &config.bases {
            let recipe = base.bootstrap.as_ref().map_or_else(
                || "no bootstrap recipe".to_owned(),
                |recipe| {
                    format!(
                        "bootstrap: {} {}, {}",
                        recipe.suite,
                        recipe.variant,
                        recipe.packages.join(" ")
                    )
                },
            );
            let when = if config.is_made_on_demand(name) {
                "; made when a package has no wheel for its architecture"
            } else {
                ""
            };
            line(format!(
                "  base       {name} = {} ({recipe}{when})",
                base.image
            ));
        }
        line(format!(
            "  builder    {} from {}",
            relative(&config.builder.dockerfile.origin()),
            relative(&config.builder.context.origin())
        ));
        // Built-in templates are assembled by Dockyard, a project's own Dockerfile is built by the engine.
        let made = |template: &dockyard_config::Template| {
            format!(
                "{} {}",
                crate::assembly::made_by(template),
                relative(&template.origin())
            )
        };
        line(format!(
            "  production {} (user {})",
            made(&config.production.dockerfile),
            config.production.user
        ));
        if let Some(nginx) = &config.nginx {
            line(format!(
                "  nginx      {} with {} (user {}, port {}, hosts {})",
                made(&nginx.dockerfile),
                relative(&nginx.config.origin()),
                nginx.user,
                nginx.port,
                nginx.server_names.join(" ")
            ));
        }
        line(format!(
            "  source     {} files, {} bytes, {}",
            self.source.n_files,
            self.source.n_bytes,
            short(&self.source.sha256)
        ));
        for excluded in &self.source.excluded {
            line(format!("             kept out: {excluded}"));
        }
        if let Some(text) = crate::assets::plan_line(&self.config) {
            line(text);
        }
        for service in config.services.values() {
            let env: Vec<String> = service
                .env
                .iter()
                .map(|(name, part)| format!("{name}={part}"))
                .collect();
            line(format!(
                "  service    {} = {} {} from base {} (ready within {} s; {})",
                service.name,
                service.kind,
                service.version,
                service.base,
                service.ready_timeout_seconds,
                if env.is_empty() {
                    "no variables".to_owned()
                } else {
                    env.join(" ")
                }
            ));
        }
        for process in &config.app.processes {
            line(format!(
                "  process    {}: {}",
                process.name,
                process.command.join(" ")
            ));
        }
        if !config.matrix.is_empty() {
            line(format!(
                "  python     {} in the images; the tests also on {} ([matrix])",
                config.python,
                config
                    .matrix
                    .iter()
                    .map(|entry| format!("{} (base {})", entry.python, entry.builder_base))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !config.platforms.is_empty() {
            line(format!(
                "  platforms  this machine's ({}), {}",
                dockyard_config::native_architecture(),
                config
                    .platforms
                    .iter()
                    .map(|platform| {
                        let bases: Vec<&str> = platform.bases().collect();
                        let (noun, bases) = match bases.as_slice() {
                            [one] => ("base", (*one).to_owned()),
                            many => ("bases", many.join(", ")),
                        };
                        match &platform.engine {
                            Some(engine) => {
                                format!("{} ({noun} {bases}; on {engine})", platform.platform)
                            }
                            None => format!("{} ({noun} {bases})", platform.platform),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for ignore in &config.python_ignores {
            line(format!(
                "  python     {}, overriding {}: {}",
                config.python,
                relative(&ignore.file),
                ignore.reason
            ));
        }
        line(format!(
            "  deps       {} ({})",
            self.dependencies.summary,
            short(&self.dependencies.sha256)
        ));
        line(format!(
            "  context    {}",
            relative(&self.paths.context_tarball)
        ));
        line("steps".to_owned());
        for (index, step) in self.steps.iter().enumerate() {
            let action = match step.action {
                Action::Run => "run",
                Action::Cached => "cached",
            };
            line(format!(
                "  {}. {:<18} {:<7} {}",
                index + 1,
                step.step.name(),
                action,
                step.reason
            ));
        }
        res
    }
}
