//! Image structure findings: root users, compilers, healthchecks, ports, size budgets and secret-looking values.

use std::collections::BTreeMap;

use dockyard_smoke::structure::{
    find_secret_looking_values, normalise_port, shannon_entropy_bits_per_char,
    structure_checks_in_group, user_is_root,
};
use dockyard_smoke::{structure::structure_checks, CheckResult, ImageFacts, StructureExpectations};

/// What a well-built app image looks like.
fn good_app_image() -> ImageFacts {
    ImageFacts {
        reference: "notes-app:latest".to_string(),
        user: "10001:10001".to_string(),
        exposed_ports: vec!["8000/tcp".to_string()],
        healthcheck: vec!["CMD".to_string(), "python".to_string(), "/app/healthcheck.py".to_string()],
        env: [
            "PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONUNBUFFERED=1",
            "PYTHONDONTWRITEBYTECODE=1",
            "DJANGO_SETTINGS_MODULE=notes.settings",
            "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
            "POSTGRES_PASSWORD_FILE=/run/secrets/db_password",
            "DJANGO_SECRET_KEY=",
        ]
        .map(str::to_string)
        .to_vec(),
        labels: [
            ("org.opencontainers.image.revision", "4f2a9c1e0b7d"),
            ("org.opencontainers.image.version", "1.4.0"),
            ("org.opencontainers.image.source", "https://github.com/example/notes"),
            (
                "dev.dockyard.inputs",
                "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ),
            (
                "dev.dockyard.token-digest",
                "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            ),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect(),
        history: [
            "/bin/sh -c #(nop) ADD file:0b1 in / ",
            "ENV PYTHONUNBUFFERED=1",
            "RUN /bin/sh -c python -m venv /opt/venv # buildkit",
            "RUN |1 DJANGO_SECRET_KEY=$BUILD_SECRET /bin/sh -c python manage.py check # buildkit",
            "RUN /bin/sh -c --mount=type=secret,id=github_token,dst=/run/secrets/github_token pip install . # buildkit",
            "RUN /bin/sh -c SECRET_KEY=/run/secrets/key python manage.py collectstatic # buildkit",
            "USER 10001:10001",
        ]
        .map(str::to_string)
        .to_vec(),
        size_bytes: 187_654_321,
        compilers_found: Vec::new(),
    }
}

fn app_expectations() -> StructureExpectations {
    StructureExpectations {
        exposed_ports: vec!["8000".to_string()],
        size_budget_bytes: Some(250_000_000),
        require_healthcheck: true,
    }
}

/// A bad image: root, build tools, no healthcheck, extra port, over budget, secrets everywhere.
fn bad_app_image() -> ImageFacts {
    ImageFacts {
        user: String::new(),
        exposed_ports: vec!["8000/tcp".to_string(), "22/tcp".to_string()],
        healthcheck: Vec::new(),
        env: [
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "DJANGO_SECRET_KEY=django-insecure-9x!q2@k#v7",
            "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
            "database_password=postgres",
        ]
        .map(str::to_string)
        .to_vec(),
        labels: [
            ("com.example.api-key", "abc123"),
            ("maintainer", "ops <ops@example.com>"),
            ("notes", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect(),
        history: [
            "ENV DJANGO_SECRET_KEY=django-insecure-9x!q2@k#v7",
            "RUN /bin/sh -c apt-get install -y gcc make",
            "RUN /bin/sh -c git clone https://ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789@github.com/x/y",
            "RUN |2 PIP_TOKEN=Zx8Kq2Lm9Vb4Nw7Rt1Yp API_KEY=short /bin/sh -c pip install . # buildkit",
            "RUN /bin/sh -c curl -H 'Authorization: x' https://hooks.slack.com/xoxb-123-456",
            "LABEL notes=...",
        ]
        .map(str::to_string)
        .to_vec(),
        size_bytes: 312_400_000,
        compilers_found: vec!["make".to_string(), "gcc".to_string(), "gcc".to_string()],
        ..good_app_image()
    }
}

fn render(results: &[CheckResult]) -> String {
    results
        .iter()
        .map(|result| {
            let mut text = format!(
                "{} {} / {}\n  expected: {}\n  actual:   {}\n",
                if result.passed { "PASS" } else { "FAIL" },
                result.group,
                result.name,
                result.expected,
                result.actual,
            );
            if !result.detail.is_empty() {
                text.push_str(&format!("  detail:   {}\n", result.detail));
            }
            text
        })
        .collect()
}

#[test]
fn a_good_app_image_passes_every_check() {
    let results =
        structure_checks_in_group("structure app", &good_app_image(), &app_expectations());
    assert!(results
        .iter()
        .all(|result| result.passed && result.duration_ms == 0));
    insta::assert_snapshot!(render(&results));
}

#[test]
fn a_bad_app_image_fails_every_check() {
    let results = structure_checks_in_group("structure app", &bad_app_image(), &app_expectations());
    assert!(results.iter().all(|result| !result.passed));
    insta::assert_snapshot!(render(&results));
}

#[test]
fn optional_checks_are_left_out() {
    let expectations = StructureExpectations {
        exposed_ports: vec!["8080".to_string()],
        size_budget_bytes: None,
        require_healthcheck: false,
    };
    let nginx = ImageFacts {
        reference: "notes-nginx:latest".to_string(),
        user: "101".to_string(),
        exposed_ports: vec!["8080/tcp".to_string()],
        healthcheck: Vec::new(),
        ..ImageFacts::default()
    };
    let results = structure_checks(&nginx, &expectations);
    let names: Vec<(&str, &str, bool)> = results
        .iter()
        .map(|result| (result.group.as_str(), result.name.as_str(), result.passed))
        .collect();
    assert_eq!(
        names,
        vec![
            ("structure", "non-root user", true),
            ("structure", "no compilers", true),
            ("structure", "exposed ports", true),
            ("structure", "no secret-looking values", true),
        ]
    );
}

#[test]
fn a_disabled_healthcheck_is_not_present() {
    let facts = ImageFacts {
        healthcheck: vec!["NONE".to_string()],
        ..good_app_image()
    };
    let results = structure_checks(&facts, &app_expectations());
    let healthcheck = results
        .iter()
        .find(|result| result.name == "healthcheck present")
        .unwrap();
    assert!(!healthcheck.passed);
    assert_eq!(healthcheck.actual, "disabled (NONE)");
}

#[test]
fn an_image_exactly_at_its_budget_passes() {
    let facts = ImageFacts {
        size_bytes: 250_000_000,
        ..good_app_image()
    };
    let results = structure_checks(&facts, &app_expectations());
    let size = results
        .iter()
        .find(|result| result.name == "size within budget")
        .unwrap();
    assert!(size.passed, "{size:?}");
    assert_eq!(size.detail, "0.0 MB to spare");
}

fn check_root(user: &str, expected: bool) {
    assert_eq!(user_is_root(user), expected, "user {user:?}");
}

#[test]
fn root_users() {
    for user in [
        "",
        " ",
        "root",
        "0",
        "0:0",
        "root:root",
        "root:app",
        "0:10001",
    ] {
        check_root(user, true);
    }
    for user in [
        "app",
        "10001",
        "10001:10001",
        "app:0",
        "101:101",
        "nginx",
        "rooty",
        "00",
    ] {
        check_root(user, false);
    }
}

#[test]
fn ports_are_normalised() {
    assert_eq!(normalise_port("8000"), "8000/tcp");
    assert_eq!(normalise_port(" 8000/tcp "), "8000/tcp");
    assert_eq!(normalise_port("53/UDP"), "53/udp");
}

fn check_secrets(facts: ImageFacts, expected: &[&str]) {
    assert_eq!(find_secret_looking_values(&facts), expected, "{facts:#?}");
}

fn env(entries: &[&str]) -> ImageFacts {
    ImageFacts {
        env: entries.iter().map(|entry| entry.to_string()).collect(),
        ..ImageFacts::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> ImageFacts {
    ImageFacts {
        labels: pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..ImageFacts::default()
    }
}

fn history(lines: &[&str]) -> ImageFacts {
    ImageFacts {
        history: lines.iter().map(|line| line.to_string()).collect(),
        ..ImageFacts::default()
    }
}

#[test]
fn secret_looking_values() {
    check_secrets(good_app_image(), &[]);
    check_secrets(
        bad_app_image(),
        &[
            "Env DJANGO_SECRET_KEY",
            "Env AWS_ACCESS_KEY_ID",
            "Env database_password",
            "label com.example.api-key",
            "label notes",
            "history step 1",
            "history step 3",
            "history step 4",
            "history step 5",
        ],
    );

    // Keys: every secret-looking part, any case, with a value.
    check_secrets(
        env(&[
            "SECRET=x",
            "db_passwd=x",
            "GITHUB_TOKEN=x",
            "OPENAI_API_KEY=x",
            "SSH_PRIVATE_KEY=x",
            "EMPTY_PASSWORD=",
            "NO_EQUALS_TOKEN",
            "SECRET_KEY_FILE=/run/secrets/key",
            "SECRET_KEY_FILE=inline-value",
        ]),
        &[
            "Env SECRET",
            "Env db_passwd",
            "Env GITHUB_TOKEN",
            "Env OPENAI_API_KEY",
            "Env SSH_PRIVATE_KEY",
            "Env SECRET_KEY_FILE",
        ],
    );
    // Values with a known format, under harmless names.
    check_secrets(
        env(&[
            "A=AKIAIOSFODNN7EXAMPLE",
            "B=ASIAIOSFODNN7EXAMPLE",
            "C=AKIAIOSFODNN7EXAMPL",
            "D=gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "E=ghx_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "F=xoxp-1234",
            "G=-----BEGIN RSA PRIVATE KEY-----",
            "H=-----BEGIN PUBLIC KEY-----",
        ]),
        &["Env A", "Env B", "Env D", "Env F", "Env G"],
    );
    // Labels: digests are not secrets, OCI labels are fine.
    check_secrets(
        labels(&[
            (
                "dev.dockyard.secret-digest",
                "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ),
            (
                "org.opencontainers.image.revision",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            ),
            ("com.example.password", "hunter2"),
            ("com.example.aws", "key AKIAIOSFODNN7EXAMPLE inside"),
        ]),
        &["label com.example.aws", "label com.example.password"],
    );
    // History: long high-entropy values assigned to secret-looking names.
    check_secrets(
        history(&[
            "ENV DJANGO_SECRET_KEY=k3#9vQz!2mX@8pL$4tR^7wN&",
            "ENV DJANGO_SECRET_KEY=short",
            "ENV DJANGO_SECRET_KEY=aaaaaaaaaaaaaaaaaaaaaaaa",
            "RUN |1 SECRET_KEY=$SECRET_KEY /bin/sh -c make",
            "RUN |1 SECRET_KEY=${SECRET_KEY} /bin/sh -c make",
            "RUN /bin/sh -c export API_TOKEN='Zx8Kq2Lm9Vb4Nw7Rt1Yp' && make",
            "RUN /bin/sh -c pip install --password=\"Zx8Kq2Lm9Vb4Nw7Rt1Yp\" .",
            "RUN /bin/sh -c DB_PASSWORD=/run/secrets/db_password_file_path ./start",
            "ENV IMAGE_TOKEN_DIGEST=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "RUN /bin/sh -c --mount=type=secret,id=django_secret_key,dst=/run/secrets/django_secret_key make",
            "ENV PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=notes.settings",
        ]),
        &["history step 1", "history step 6", "history step 7"],
    );
}

#[test]
fn entropy() {
    assert_eq!(shannon_entropy_bits_per_char(""), 0.0);
    assert_eq!(shannon_entropy_bits_per_char("aaaa"), 0.0);
    assert_eq!(shannon_entropy_bits_per_char("abab"), 1.0);
    assert_eq!(shannon_entropy_bits_per_char("abcdefgh"), 3.0);
}
