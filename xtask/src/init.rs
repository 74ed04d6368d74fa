//! `cargo xtask init PATH`: inspects a Django project by reading its files and writes PATH/deploy.toml.

use dockyard_init::{PythonChoice, StaticRoot, TestRunner};
use dockyard_pipeline::exit_code;

use crate::flags;

impl flags::Init {
    pub(crate) fn run(self) -> anyhow::Result<i32> {
        let (path, found) = dockyard_init::init(&self.path)?;
        println!("wrote {}", path.display());
        let app = if found.app_path.as_os_str().is_empty() {
            ".".to_owned()
        } else {
            found.app_path.display().to_string()
        };
        println!("  app          {app} (settings {})", found.settings.module);
        if let Some(format) = &found.dependencies {
            println!("  dependencies {format}");
        }
        let python = match found.python {
            PythonChoice::NotAsked => "not asked for: Dockyard's default".to_owned(),
            PythonChoice::Offered(offered) => offered.version_key.to_owned(),
            PythonChoice::NoneFits(newest) => format!(
                "{}, the newest: none of the offered versions fits the request (written as [[python.ignore]])",
                newest.version_key
            ),
        };
        println!("  python       {python}");
        let tests = match &found.test_runner {
            TestRunner::Pytest(..) => "pytest",
            TestRunner::Django { .. } => "manage.py test",
        };
        println!("  tests        {tests}");
        match &found.static_root {
            StaticRoot::Relative(root, _) => println!("  static root  {}", root.display()),
            StaticRoot::Absolute(root, _) => println!("  static root  {root}"),
            StaticRoot::Unreadable(..) | StaticRoot::NotSet => {}
        }
        for service in &found.services {
            let env: Vec<&str> = service
                .env
                .iter()
                .map(|(name, _, _)| name.as_str())
                .collect();
            println!(
                "  service      {} ({})",
                service.kind.as_str(),
                if env.is_empty() {
                    "no variable found".to_owned()
                } else {
                    env.join(", ")
                }
            );
        }
        if let Some(assets) = &found.assets {
            println!("  assets       {}", assets.manager.as_str());
        }
        println!("next: cargo xtask plan --config {}", path.display());
        Ok(exit_code::OK)
    }
}
