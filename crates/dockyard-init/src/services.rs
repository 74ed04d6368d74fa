//! What init reads in the settings about the environment: the variables they read (to reach each service: the whole
//! URL or its parts; and the secrets they require at import), and the Celery app a worker process runs.

use std::path::Path;
use std::sync::LazyLock;

use dockyard_config::{ServiceKind, ServiceValue};
use regex::Regex;

use crate::settings::SourceFile;
use crate::Evidence;

/// A variable the settings read, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    pub(crate) name: String,
    pub(crate) evidence: Evidence,
    /// Read without a default (`os.environ["X"]`, django-environ's `env("X")`): the settings fail without it.
    pub(crate) required: bool,
}

/// Every environment variable the settings files read, once each, in the order first read.
pub(crate) fn variables_read(files: &[SourceFile]) -> Vec<Read> {
    static NAMED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"(?:os\.environ\[|(?:os\.environ\.get|os\.getenv|environ\.get|getenv|env(?:\.(?:get|str|bool|int|url|db|db_url|cache|cache_url|list))?|config)\()\s*["']([A-Z][A-Z0-9_]*)["']"#,
        )
        .expect("a valid regex")
    });
    // django-environ's `env.db()` and dj-database-url's `config()` (its arguments may span lines) read DATABASE_URL
    // unless told otherwise.
    static DEFAULT_DATABASE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"env\.db(?:_url)?\(\s*\)|dj_database_url\.config\([^)]*\)")
            .expect("a valid regex")
    });
    static DJ_DATABASE_ENV: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"env\s*=\s*["']([A-Z][A-Z0-9_]*)["']"#).expect("a valid regex")
    });
    // The spellings that fail without the variable: `os.environ["X"]`, `env["X"]` (a copy of os.environ), and
    // django-environ's `env("X")` / `env.str("X")` with no default.
    static REQUIRED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:os\.environ|\benv)\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]|\benv(?:\.str)?\(\s*["']([A-Z][A-Z0-9_]*)["']\s*\)"#)
            .expect("a valid regex")
    });
    static DEFAULT_CACHE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"env\.cache(?:_url)?\(\s*\)").expect("a valid regex"));
    let mut found: Vec<Read> = Vec::new();
    let mut add = |name: &str, file: &SourceFile, line: usize, required: bool| match found
        .iter_mut()
        .find(|read| read.name == name)
    {
        Some(read) => read.required |= required,
        None => found.push(Read {
            name: name.to_owned(),
            evidence: Evidence::new(&file.path, line),
            required,
        }),
    };
    for file in files {
        for call in DEFAULT_DATABASE.find_iter(&file.text) {
            let line = file.text[..call.start()].lines().count().max(1);
            let commented = file.text[..call.start()]
                .rsplit('\n')
                .next()
                .is_some_and(|start| start.trim_start().starts_with('#'));
            if !commented {
                match DJ_DATABASE_ENV.captures(call.as_str()) {
                    Some(captures) => add(&captures[1], file, line, false),
                    None => add("DATABASE_URL", file, line, false),
                }
            }
        }
        for (index, line) in file.text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            // Only a read at the top level fails the import: an indented one sits under a condition (`if "X" in
            // env:`), and giving it a value would turn that branch on.
            let top_level = !line.starts_with(char::is_whitespace);
            for captures in REQUIRED.captures_iter(line) {
                if let Some(name) = captures.get(1).or_else(|| captures.get(2)) {
                    add(name.as_str(), file, index + 1, top_level);
                }
            }
            for captures in NAMED.captures_iter(line) {
                add(&captures[1], file, index + 1, false);
            }
            if DEFAULT_CACHE.is_match(line) {
                add("CACHE_URL", file, index + 1, false);
            }
        }
    }
    found
}

/// Whether the settings append a path to the URL read from `name` (`REDIS_URL + "/0"`, `f"{REDIS_URL}/1"`): the
/// variable must then hold the URL without its database part.
pub(crate) fn appends_database(files: &[SourceFile], name: &str) -> bool {
    let name = regex::escape(name);
    let Ok(pattern) = Regex::new(&format!(r#"\b{name}\s*\+\s*["']/|\{{{name}\}}/"#)) else {
        return false;
    };
    files.iter().any(|file| {
        file.text
            .lines()
            .any(|line| !line.trim_start().starts_with('#') && pattern.is_match(line))
    })
}

/// The service kind and part a variable reaches, judged by its name; `broker` is the kind Celery's broker is
/// (RabbitMQ when the settings name one, else Redis).
pub(crate) fn part_of(name: &str, broker: ServiceKind) -> Option<(ServiceKind, ServiceValue)> {
    use ServiceKind::{Postgres, Redis};
    match name {
        "DATABASE_URL" | "POSTGRES_URL" | "POSTGRESQL_URL" => {
            return Some((Postgres, ServiceValue::Url))
        }
        "REDIS_URL" | "CACHE_URL" | "REDIS_CACHE_URL" | "CELERY_RESULT_BACKEND" => {
            return Some((Redis, ServiceValue::Url))
        }
        "CELERY_BROKER_URL" | "BROKER_URL" => return Some((broker, ServiceValue::Url)),
        _ => {}
    }
    let (prefix, suffix) = match name.strip_prefix("PG") {
        Some(rest) if !rest.starts_with('_') => ("PG", rest),
        _ => name.split_once('_')?,
    };
    if !["POSTGRES", "POSTGRESQL", "PG", "DB", "DATABASE"].contains(&prefix) {
        return None;
    }
    let part = match suffix {
        "HOST" => ServiceValue::Host,
        "PORT" => ServiceValue::Port,
        "USER" | "USERNAME" => ServiceValue::User,
        "PASSWORD" | "PASS" => ServiceValue::Password,
        "DB" | "NAME" | "DATABASE" => ServiceValue::Database,
        _ => return None,
    };
    Some((Postgres, part))
}

/// The module defining the Celery app (`Celery(`), as `celery -A` takes it, relative to the app folder.
pub(crate) fn celery_module(
    root: &Path,
    app: &Path,
    python_files: &[std::path::PathBuf],
) -> Option<(String, Evidence)> {
    static CELERY_APP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s*\w+\s*=\s*Celery\(").expect("a valid regex"));
    for relative in python_files {
        let Ok(text) = std::fs::read_to_string(root.join(app).join(relative)) else {
            continue;
        };
        let Some(index) = text.lines().position(|line| CELERY_APP.is_match(line)) else {
            continue;
        };
        let module = relative
            .with_extension("")
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(".");
        return Some((module, Evidence::new(&app.join(relative), index + 1)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_read_from_the_usual_spellings() {
        #[track_caller]
        fn check(line: &str, expected: &[&str]) {
            let file = SourceFile {
                path: "settings.py".into(),
                text: line.to_owned(),
            };
            let names: Vec<String> = variables_read(&[file])
                .into_iter()
                .map(|read| read.name)
                .collect();
            assert_eq!(names, expected, "{line}");
        }
        check(r#"SECRET_KEY = os.environ["SECRET_KEY"]"#, &["SECRET_KEY"]);
        check(
            r#""HOST": os.getenv("POSTGRES_HOST", "postgres"),"#,
            &["POSTGRES_HOST"],
        );
        check(r#"x = os.environ.get('REDIS_URL')"#, &["REDIS_URL"]);
        check(
            r#""default": env.db("DATABASE_URL", default="postgres:///x"),"#,
            &["DATABASE_URL"],
        );
        check(r#""default": env.db(),"#, &["DATABASE_URL"]);
        check(
            r#"DATABASES = {"default": dj_database_url.config(conn_max_age=600)}"#,
            &["DATABASE_URL"],
        );
        check(
            r#"DATABASES = {"default": dj_database_url.config(env="PRIMARY_DB")}"#,
            &["PRIMARY_DB"],
        );
        check(
            r#"CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="amqp://")"#,
            &["CELERY_BROKER_URL"],
        );
        check(r#"# DATABASE_URL = os.environ["DATABASE_URL"]"#, &[]);
        check(r#"DEBUG = env.bool("DEBUG", default=False)"#, &["DEBUG"]);
        check(
            r#"REDIS_URL = env.get("REDIS_TLS_URL", env.get("REDIS_URL"))"#,
            &["REDIS_TLS_URL", "REDIS_URL"],
        );
        check("DATABASES = {\n    \"default\": dj_database_url.config(\n        conn_max_age=600,\n    )\n}", &["DATABASE_URL"]);
    }

    #[test]
    fn variables_read_without_a_default_are_required() {
        #[track_caller]
        fn check(line: &str, required: bool) {
            let file = SourceFile {
                path: "settings.py".into(),
                text: line.to_owned(),
            };
            let reads = variables_read(&[file]);
            assert_eq!(reads.len(), 1, "{line}");
            assert_eq!(reads[0].required, required, "{line}");
        }
        check(r#"SECRET_KEY = os.environ["SECRET_KEY"]"#, true);
        check(r#"SECRET_KEY = env["SECRET_KEY"]"#, true);
        check(r#"SECRET_KEY = env("DJANGO_SECRET")"#, true);
        check(r#"SECRET_KEY = env("DJANGO_SECRET", default="x")"#, false);
        check(r#"KEY = os.environ.get("ZOOM_CLIENT_SECRET")"#, false);
        check(r#"KEY = os.getenv("API_KEY", "")"#, false);
        check(r#"    TOKEN = env["CLOUDFLARE_TOKEN"]"#, false);
    }

    #[test]
    fn names_say_which_service_and_part() {
        #[track_caller]
        fn check(name: &str, expected: Option<(ServiceKind, ServiceValue)>) {
            assert_eq!(part_of(name, ServiceKind::Rabbitmq), expected, "{name}");
        }
        use ServiceKind::*;
        check("DATABASE_URL", Some((Postgres, ServiceValue::Url)));
        check("POSTGRES_HOST", Some((Postgres, ServiceValue::Host)));
        check("POSTGRES_DB", Some((Postgres, ServiceValue::Database)));
        let file = |text: &str| SourceFile {
            path: "settings.py".into(),
            text: text.to_owned(),
        };
        assert!(appends_database(
            &[file("    \"LOCATION\": REDIS_URL + \"/0\",")],
            "REDIS_URL"
        ));
        assert!(appends_database(
            &[file("LOCATION = f\"{REDIS_URL}/1\"")],
            "REDIS_URL"
        ));
        assert!(!appends_database(
            &[file("LOCATION = REDIS_URL")],
            "REDIS_URL"
        ));
        assert!(!appends_database(
            &[file("# REDIS_URL + \"/0\"")],
            "REDIS_URL"
        ));
        check("DB_PASSWORD", Some((Postgres, ServiceValue::Password)));
        check("PGUSER", Some((Postgres, ServiceValue::User)));
        check("REDIS_URL", Some((Redis, ServiceValue::Url)));
        check("CELERY_BROKER_URL", Some((Rabbitmq, ServiceValue::Url)));
        check("SECRET_KEY", None);
        check("EMAIL_HOST", None);
        check("DB_ENGINE", None);
        assert_eq!(
            part_of("CELERY_BROKER_URL", Redis),
            Some((Redis, ServiceValue::Url))
        );
    }
}
