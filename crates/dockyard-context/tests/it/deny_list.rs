//! The secret deny list: built-in patterns, `extra_deny`, and why `.dockerignore` cannot bring secrets back.

use std::path::{Path, PathBuf};

use dockyard_context::{ContextError, Excluded, SourceRules, BUILTIN_DENY};

use crate::support::{entry_paths, pack_source_to_bytes, render_error, temp_dir, write_file};

fn write_project_with_secrets(root: &Path) {
    for file in [
        "app.py",
        "environment.py",
        "env/settings.py",
        ".envrc",
        ".env",
        ".env.local",
        "sub/.env",
        "key.pem",
        "sub/server.key",
        "id_rsa",
        "id_rsa.pub",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        "sub/.git/config",
        "db.sqlite3",
        "secrets/token.txt",
    ] {
        write_file(root, file, file.as_bytes());
    }
}

fn excluded(path: &str, pattern: &str, reinclude_attempted: bool) -> Excluded {
    Excluded {
        path: PathBuf::from(path),
        pattern: pattern.to_string(),
        reinclude_attempted,
    }
}

fn rules_with_dockerignore(root: &Path, text: &str, extra_deny: &[&str]) -> SourceRules {
    let dockerignore = root.join(".dockerignore");
    std::fs::write(&dockerignore, text).unwrap();
    SourceRules {
        dockerignore: Some(dockerignore),
        extra_deny: extra_deny
            .iter()
            .map(|pattern| pattern.to_string())
            .collect(),
        max_file_bytes: None,
    }
}

#[test]
fn builtin_list_is_the_documented_one() {
    assert_eq!(
        BUILTIN_DENY,
        &["*.env", ".envs/", ".env", ".env.*", "*.pem", "*.key", "id_rsa*", ".git/"]
    );
}

#[test]
fn env_style_secret_files_are_left_out_wherever_they_are() {
    // cookiecutter-django's layout: `.envs/.production/.django` holds DJANGO_SECRET_KEY and POSTGRES_PASSWORD.
    let tree = temp_dir();
    let root = tree.path();
    let write = |relative: &str, text: &str| write_file(root, relative, text.as_bytes());
    write(
        ".envs/.production/.django",
        "DJANGO_SECRET_KEY=s3cr3t\nDJANGO_DEBUG=False\n",
    );
    write("deploy/production.env", "POSTGRES_PASSWORD=hunter2\n");
    write(
        "config/prod.vars",
        "# deploy settings\nexport AWS_SECRET_ACCESS_KEY=abc\nREGION=eu\n",
    );
    write(
        "config/settings.py",
        "SECRET_KEY = os.environ['SECRET_KEY']\nPASSWORD=1\n",
    );
    write("docs/notes", "DEBUG=1\nPORT=8000\n");
    let (summary, bytes) = pack_source_to_bytes(root, &SourceRules::default()).expect("pack");
    let excluded: Vec<(String, String)> = summary
        .excluded
        .iter()
        .map(|excluded| {
            (
                excluded.path.display().to_string(),
                excluded.pattern.clone(),
            )
        })
        .collect();
    insta::assert_debug_snapshot!(excluded);
    assert_eq!(
        entry_paths(&bytes)
            .into_iter()
            .filter(|path| !path.ends_with('/'))
            .collect::<Vec<_>>(),
        ["config/settings.py", "docs/notes"]
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::BadSourceTree,
        "env_style_secret_files",
        ".envs/.production/.django, deploy/production.env and config/prod.vars holding NAME=value secrets",
        "all three left out and reported in the plan (by .envs/, *.env, and by contents); settings.py and a non-secret env file kept",
        "dockyard-context::deny_list::env_style_secret_files_are_left_out_wherever_they_are",
    );
}

#[test]
fn builtin_patterns_match_at_any_depth() {
    let root = temp_dir();
    write_project_with_secrets(root.path());
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    assert_eq!(
        entry_paths(&bytes),
        vec![
            ".envrc",
            "app.py",
            "db.sqlite3",
            "env/",
            "env/settings.py",
            "environment.py",
            "secrets/",
            "secrets/token.txt",
            "sub/",
        ]
    );
    assert_eq!(
        summary.excluded,
        vec![
            excluded(".env", ".env", false),
            excluded(".env.local", ".env.*", false),
            excluded(".git", ".git/", false),
            excluded("id_rsa", "id_rsa*", false),
            excluded("id_rsa.pub", "id_rsa*", false),
            excluded("key.pem", "*.pem", false),
            excluded("sub/.env", ".env", false),
            excluded("sub/.git", ".git/", false),
            excluded("sub/server.key", "*.key", false),
        ]
    );
}

#[test]
fn a_file_named_dot_git_is_not_a_git_folder() {
    let root = temp_dir();
    write_file(
        root.path(),
        "vendored/.git",
        b"gitdir: ../.git/modules/vendored\n",
    );
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    assert_eq!(entry_paths(&bytes), vec!["vendored/", "vendored/.git"]);
    assert!(summary.excluded.is_empty());
}

#[test]
fn dockerignore_cannot_re_include_denied_paths() {
    let root = temp_dir();
    write_project_with_secrets(root.path());
    let rules = rules_with_dockerignore(
        root.path(),
        "*\n!app.py\n!.env\n!.git\n!key.pem\n!sub\n",
        &[],
    );
    let (summary, bytes) = pack_source_to_bytes(root.path(), &rules).unwrap();
    assert_eq!(entry_paths(&bytes), vec!["app.py", "sub/"]);
    assert_eq!(
        summary.excluded,
        vec![
            excluded(".env", ".env", true),
            excluded(".git", ".git/", true),
            excluded("key.pem", "*.pem", true),
            excluded("sub/.env", ".env", true),
            excluded("sub/.git", ".git/", true),
            excluded("sub/server.key", "*.key", true),
        ]
    );
}

#[test]
fn re_including_something_inside_a_denied_folder_is_reported() {
    let root = temp_dir();
    write_project_with_secrets(root.path());
    let rules = rules_with_dockerignore(root.path(), ".git\n!.git/HEAD\n", &[]);
    let (summary, bytes) = pack_source_to_bytes(root.path(), &rules).unwrap();
    assert!(!entry_paths(&bytes)
        .iter()
        .any(|path| path.contains(".git/")));
    assert!(summary
        .excluded
        .contains(&excluded(".git/HEAD", ".git/", true)));
}

#[test]
fn plain_dockerignore_hits_on_secrets_are_not_reported() {
    let root = temp_dir();
    write_project_with_secrets(root.path());
    let rules = rules_with_dockerignore(
        root.path(),
        ".env\n.git\n**/.env\n**/.git\n.dockerignore\n",
        &[],
    );
    let (summary, _) = pack_source_to_bytes(root.path(), &rules).unwrap();
    let reported: Vec<&Path> = summary
        .excluded
        .iter()
        .map(|entry| entry.path.as_path())
        .collect();
    assert_eq!(
        reported,
        vec![
            Path::new(".env.local"),
            Path::new("id_rsa"),
            Path::new("id_rsa.pub"),
            Path::new("key.pem"),
            Path::new("sub/server.key"),
        ]
    );
}

#[test]
fn extra_deny_extends_the_list() {
    let root = temp_dir();
    write_project_with_secrets(root.path());
    let rules = SourceRules {
        dockerignore: None,
        extra_deny: vec!["*.sqlite3".to_string(), "secrets/".to_string()],
        max_file_bytes: None,
    };
    let (summary, bytes) = pack_source_to_bytes(root.path(), &rules).unwrap();
    let paths = entry_paths(&bytes);
    assert!(!paths.contains(&"db.sqlite3".to_string()));
    assert!(!paths.iter().any(|path| path.starts_with("secrets")));
    assert!(summary
        .excluded
        .contains(&excluded("db.sqlite3", "*.sqlite3", false)));
    assert!(summary
        .excluded
        .contains(&excluded("secrets", "secrets/", false)));
    assert!(summary.excluded.contains(&excluded(".env", ".env", false)));
}

#[test]
fn extra_deny_also_beats_dockerignore_re_includes() {
    let root = temp_dir();
    write_project_with_secrets(root.path());
    let rules = rules_with_dockerignore(root.path(), "!db.sqlite3\n", &["db.sqlite3"]);
    let (summary, _) = pack_source_to_bytes(root.path(), &rules).unwrap();
    assert!(summary
        .excluded
        .contains(&excluded("db.sqlite3", "db.sqlite3", true)));
}

#[test]
fn error_messages() {
    let root = temp_dir();
    write_file(root.path(), "app.py", b"");
    let render = |extra: &str| -> String {
        let rules = SourceRules {
            dockerignore: None,
            extra_deny: vec![extra.to_string()],
            max_file_bytes: None,
        };
        let error: ContextError = pack_source_to_bytes(root.path(), &rules).unwrap_err();
        render_error(&error, &[])
    };
    insta::assert_snapshot!(
        "deny_errors",
        [render("!.env"), render("  !*.pem"), render("src/{a,b")].join("\n\n")
    );
}
