//! Bad source trees, one case per kind: each is built in a temp folder, packed with the real packer, and must end in its defined behaviour (refused naming the path with a hint, kept out by the deny list, or packed as documented) within a time bound.
#![allow(
    clippy::disallowed_methods,
    reason = "the test makes FIFOs and device nodes with mkfifo and mknod, and reruns its own binary as another user"
)]

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dockyard_context::{
    pack_source_tree, unpack_archive_safely, ContextError, PackOptions, PackSummary, SourceRules,
    DEFAULT_MAX_SOURCE_FILE_BYTES,
};
use dockyard_reliability::{record, Category};

use crate::support::{
    entry_paths, gunzip, make_symlink, pack_source_to_bytes, render_error, temp_dir, write_file,
};

/// No case may take longer than this (a FIFO that is opened would block forever).
const TIME_BOUND: Duration = Duration::from_secs(30);

/// Planted in every secret file; must never appear in a packed tarball.
const SECRET_BYTES: &str = "DOCKYARD_TREE_SENTINEL_5f1c0e";

/// What packing a bad tree must do.
enum Expected {
    /// Packing fails; the rendered error contains every fragment (the path among them) and a hint.
    Refused(&'static [&'static str]),
    /// Packing succeeds; the deny list keeps `path` out with `pattern`, and the secret bytes are
    /// nowhere in the tarball.
    KeptOut {
        path: &'static str,
        pattern: &'static str,
        also_packed: &'static [&'static str],
    },
    /// Packing succeeds with exactly these entries, in this order.
    Packed(&'static [&'static str]),
}

/// Packs `root` with the real packer on another thread, failing if it takes longer than
/// [`TIME_BOUND`].
fn pack_within_bound(root: &Path, rules: SourceRules) -> Result<(PackSummary, Vec<u8>), String> {
    let root = root.to_path_buf();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = pack_source_to_bytes(&root, &rules)
            .map_err(|error| render_error(&error, &[(&root, "[TREE]")]));
        let _ = sender.send(result);
    });
    receiver
        .recv_timeout(TIME_BOUND)
        .unwrap_or_else(|_| panic!("packing did not finish within {TIME_BOUND:?}"))
}

/// Builds the tree with `build`, packs it, asserts `expected`, and records the case. Returns the
/// outcome line.
fn check(case: &str, tried: &str, build: impl FnOnce(&Path), expected: Expected) -> String {
    let tree = temp_dir();
    write_file(tree.path(), "manage.py", b"print('manage')\n");
    build(tree.path());
    let started = Instant::now();
    let result = pack_within_bound(tree.path(), SourceRules::default());
    let elapsed = started.elapsed();
    let outcome = match (expected, result) {
        (Expected::Refused(fragments), Err(rendered)) => {
            for fragment in fragments {
                assert!(
                    rendered.contains(fragment),
                    "{case}: `{fragment}` not in:\n{rendered}"
                );
            }
            assert!(
                rendered.contains("\nhint: "),
                "{case}: no hint in {rendered}"
            );
            format!("refused: {}", rendered.replace('\n', "; "))
        }
        (
            Expected::KeptOut {
                path,
                pattern,
                also_packed,
            },
            Ok((summary, bytes)),
        ) => {
            assert!(
                summary
                    .excluded
                    .iter()
                    .any(|excluded| excluded.path == Path::new(path)
                        && excluded.pattern == pattern),
                "{case}: {path} not reported as excluded by {pattern}: {:?}",
                summary.excluded
            );
            let paths = entry_paths(&bytes);
            assert!(
                !paths
                    .iter()
                    .any(|entry| entry.trim_end_matches('/') == path),
                "{case}: {path} is in the tarball: {paths:?}"
            );
            for packed in also_packed {
                assert!(
                    paths.iter().any(|entry| entry == packed),
                    "{case}: {packed} is not in the tarball: {paths:?}"
                );
            }
            let tar_bytes = gunzip(&bytes);
            assert!(
                !contains(&tar_bytes, SECRET_BYTES.as_bytes()),
                "{case}: the secret's bytes are in the tarball"
            );
            format!(
                "packed without `{path}` (deny pattern `{pattern}`, reported as excluded); secret bytes absent from the tarball; packed: {}",
                paths.join(", ")
            )
        }
        (Expected::Packed(expected_paths), Ok((_, bytes))) => {
            let paths = entry_paths(&bytes);
            assert_eq!(paths, expected_paths, "{case}");
            format!("packed: {}", paths.join(", "))
        }
        (Expected::Refused(_), Ok((_, bytes))) => {
            panic!(
                "{case}: expected a refusal, packed {:?}",
                entry_paths(&bytes)
            )
        }
        (_, Err(rendered)) => panic!("{case}: expected success, got {rendered}"),
    };
    let outcome = format!("{outcome} ({} ms)", elapsed.as_millis());
    record(
        Category::BadSourceTree,
        case,
        tried,
        &outcome,
        &format!("dockyard-context::bad_source_trees::{case}"),
    );
    outcome
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn secret_file(root: &Path, relative: &str) {
    write_file(
        root,
        relative,
        format!("SECRET={SECRET_BYTES}\n").as_bytes(),
    );
}

#[test]
fn symlink_leaving_the_tree_relative() {
    check(
        "symlink_leaving_the_tree_relative",
        "app/passwd -> ../../etc/passwd",
        |root| make_symlink(root, "app/passwd", "../../etc/passwd"),
        Expected::Refused(&[
            "symlink app/passwd points outside the context: ../../etc/passwd",
            "hint: remove the symlink or add `app/passwd` to .dockerignore",
        ]),
    );
}

#[test]
fn symlink_leaving_the_tree_absolute() {
    check(
        "symlink_leaving_the_tree_absolute",
        "passwd -> /etc/passwd",
        |root| make_symlink(root, "passwd", "/etc/passwd"),
        Expected::Refused(&[
            "symlink passwd points outside the context: /etc/passwd",
            "hint: remove the symlink or add `passwd` to .dockerignore",
        ]),
    );
}

#[test]
fn symlink_loop() {
    check(
        "symlink_loop",
        "loop_a -> loop_b, loop_b -> loop_a, self -> self, up/parent -> .. (a folder loop)",
        |root| {
            make_symlink(root, "loop_a", "loop_b");
            make_symlink(root, "loop_b", "loop_a");
            make_symlink(root, "self", "self");
            make_symlink(root, "up/parent", "..");
        },
        Expected::Packed(&["loop_a", "loop_b", "manage.py", "self", "up/", "up/parent"]),
    );
}

#[test]
fn dot_env_file() {
    check(
        "dot_env_file",
        ".env holding a secret",
        |root| secret_file(root, ".env"),
        Expected::KeptOut {
            path: ".env",
            pattern: ".env",
            also_packed: &["manage.py"],
        },
    );
}

#[test]
fn dot_env_production_file() {
    check(
        "dot_env_production_file",
        "config/.env.production holding a secret",
        |root| secret_file(root, "config/.env.production"),
        Expected::KeptOut {
            path: "config/.env.production",
            pattern: ".env.*",
            also_packed: &["manage.py"],
        },
    );
}

#[test]
fn ssh_private_key() {
    check(
        "ssh_private_key",
        "deploy/id_rsa holding a secret",
        |root| secret_file(root, "deploy/id_rsa"),
        Expected::KeptOut {
            path: "deploy/id_rsa",
            pattern: "id_rsa*",
            also_packed: &["manage.py"],
        },
    );
}

#[test]
fn pem_file() {
    check(
        "pem_file",
        "certs/server.pem holding a secret",
        |root| secret_file(root, "certs/server.pem"),
        Expected::KeptOut {
            path: "certs/server.pem",
            pattern: "*.pem",
            also_packed: &["manage.py"],
        },
    );
}

#[test]
fn key_file() {
    check(
        "key_file",
        "tls/private.key holding a secret",
        |root| secret_file(root, "tls/private.key"),
        Expected::KeptOut {
            path: "tls/private.key",
            pattern: "*.key",
            also_packed: &["manage.py"],
        },
    );
}

#[test]
fn git_folder() {
    check(
        "git_folder",
        ".git/config holding a secret (a credential in a remote URL)",
        |root| secret_file(root, ".git/config"),
        Expected::KeptOut {
            path: ".git",
            pattern: ".git/",
            also_packed: &["manage.py"],
        },
    );
}

#[test]
fn symlink_to_a_denied_file() {
    check(
        "symlink_to_a_denied_file",
        "settings.link -> .env (a symlink inside the tree to a file the deny list removes)",
        |root| {
            secret_file(root, ".env");
            make_symlink(root, "settings.link", ".env");
        },
        Expected::KeptOut {
            path: ".env",
            pattern: ".env",
            also_packed: &["manage.py", "settings.link"],
        },
    );
}

/// Runs the current test binary as `nobody` for the unreadable-file case: root reads any file
/// whatever its mode, so the honest test of EACCES needs an unprivileged process.
const UNREADABLE_CHILD_ENV: &str = "DOCKYARD_TEST_UNREADABLE_TREE";

#[test]
#[allow(
    clippy::print_stdout,
    reason = "the unprivileged child reports its result to the parent on stdout"
)]
fn unreadable_file() {
    if let Some(root) = std::env::var_os(UNREADABLE_CHILD_ENV) {
        // The child: an unprivileged process packing the tree the parent made.
        let root = Path::new(&root);
        let error = pack_source_to_bytes(root, &SourceRules::default()).unwrap_err();
        assert!(
            matches!(&error, ContextError::ReadFile { path, source }
                if path.ends_with("secret_settings.py")
                    && source.kind() == std::io::ErrorKind::PermissionDenied),
            "{error:?}"
        );
        println!(
            "CHILD-RESULT {}",
            render_error(&error, &[(root, "[TREE]")]).replace('\n', "; ")
        );
        return;
    }
    let tree = tempfile::Builder::new()
        .prefix("dockyard-unreadable-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(tree.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    write_file(tree.path(), "manage.py", b"print('manage')\n");
    write_file(tree.path(), "secret_settings.py", b"X = 1\n");
    std::fs::set_permissions(
        tree.path().join("secret_settings.py"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let running_as_root = std::fs::File::open(tree.path().join("secret_settings.py")).is_ok();
    let started = Instant::now();
    let rendered = if running_as_root {
        // Root (as in CI) bypasses file modes: pack as uid/gid 65534 (nobody) in a child process,
        // running a copy of this test binary that nobody may execute (the checkout may sit in a
        // folder only root can enter).
        let runner = tempfile::Builder::new()
            .prefix("dockyard-unreadable-runner-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(runner.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = runner.path().join("it");
        std::fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let output = Command::new(&binary)
            .args([
                "--exact",
                "bad_source_trees::unreadable_file",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(UNREADABLE_CHILD_ENV, tree.path())
            .env_remove("RUST_TEST_THREADS")
            .current_dir(runner.path())
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "the unprivileged child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
            .lines()
            .find_map(|line| line.split_once("CHILD-RESULT ").map(|(_, result)| result))
            .unwrap_or_else(|| panic!("the child ran no check:\n{stdout}"))
            .to_owned()
    } else {
        let error = pack_source_to_bytes(tree.path(), &SourceRules::default()).unwrap_err();
        render_error(&error, &[(tree.path(), "[TREE]")]).replace('\n', "; ")
    };
    assert!(rendered.contains("error: cannot read [TREE]/secret_settings.py"));
    assert!(rendered.contains("hint: check the file's permissions"));
    let who = if running_as_root {
        "packed as uid 65534 in a child process, since root reads any file"
    } else {
        "packed as the current non-root user"
    };
    record(
        Category::BadSourceTree,
        "unreadable_file",
        &format!("secret_settings.py with mode 000 ({who})"),
        &format!(
            "refused with EACCES: {rendered} ({} ms)",
            started.elapsed().as_millis()
        ),
        "dockyard-context::bad_source_trees::unreadable_file",
    );
}

#[test]
fn non_utf8_file_name() {
    let name = OsStr::from_bytes(b"caf\xe9.txt");
    let tree = temp_dir();
    std::fs::write(tree.path().join(name), b"latin-1 name\n").unwrap();
    let (summary, bytes) = pack_within_bound(tree.path(), SourceRules::default()).unwrap();
    assert_eq!(summary.n_files, 1);
    let tar_bytes = gunzip(&bytes);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let stored: Vec<Vec<u8>> = archive
        .entries()
        .unwrap()
        .map(|entry| entry.unwrap().path_bytes().into_owned())
        .collect();
    assert_eq!(
        stored,
        vec![b"caf\xe9.txt".to_vec()],
        "stored byte for byte"
    );
    let parent = temp_dir();
    let dest = parent.path().join("dest");
    unpack_archive_safely(&tar_bytes[..], &dest).unwrap();
    assert_eq!(std::fs::read(dest.join(name)).unwrap(), b"latin-1 name\n");
    record(
        Category::BadSourceTree,
        "non_utf8_file_name",
        "a file named b\"caf\\xe9.txt\" (Latin-1, not UTF-8)",
        "packed with its name stored byte for byte (no lossy conversion), and unpacked back to the same bytes",
        "dockyard-context::bad_source_trees::non_utf8_file_name",
    );
}

#[test]
fn fifo() {
    check(
        "fifo",
        "run/control.fifo made with mkfifo (opening it would block forever)",
        |root| {
            std::fs::create_dir(root.join("run")).unwrap();
            let status = Command::new("mkfifo")
                .arg(root.join("run/control.fifo"))
                .status()
                .unwrap();
            assert!(status.success());
        },
        Expected::Refused(&[
            "run/control.fifo is a fifo, which cannot go into a build context",
            "hint: add `run/control.fifo` to .dockerignore",
        ]),
    );
}

#[test]
fn unix_socket() {
    let mut listener = None;
    check(
        "unix_socket",
        "gunicorn.sock, a listening Unix socket",
        |root| {
            listener =
                Some(std::os::unix::net::UnixListener::bind(root.join("gunicorn.sock")).unwrap())
        },
        Expected::Refused(&[
            "gunicorn.sock is a socket, which cannot go into a build context",
            "hint: add `gunicorn.sock` to .dockerignore",
        ]),
    );
    drop(listener);
}

#[test]
#[allow(clippy::print_stderr, reason = "a skip is reported loudly")]
fn character_device() {
    let probe = temp_dir();
    let made = Command::new("mknod")
        .arg(probe.path().join("null"))
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    if !made.status.success() {
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            panic!(
                "CI=true but mknod failed: {}",
                String::from_utf8_lossy(&made.stderr)
            );
        }
        eprintln!("SKIPPED character_device: mknod needs root (CI runs it as root)");
        return;
    }
    check(
        "character_device",
        "dev/null, a character device (1,3) made with mknod",
        |root| {
            std::fs::create_dir(root.join("dev")).unwrap();
            let status = Command::new("mknod")
                .arg(root.join("dev/null"))
                .args(["c", "1", "3"])
                .status()
                .unwrap();
            assert!(status.success());
        },
        Expected::Refused(&[
            "dev/null is a character device, which cannot go into a build context",
            "hint: add `dev/null` to .dockerignore",
        ]),
    );
}

#[test]
fn very_large_file() {
    let five_gib = 5 * 1024 * 1024 * 1024;
    let outcome = check(
        "very_large_file",
        "dump.sql, a sparse 5 GiB file (the default limit is 1 GiB per file)",
        |root| {
            let file = std::fs::File::create(root.join("dump.sql")).unwrap();
            file.set_len(five_gib).unwrap();
        },
        Expected::Refused(&[
            "dump.sql is 5368709120 bytes, over the 1073741824-byte limit for one file in a source context",
            "hint: a source context holds code, not data: add `dump.sql` to .dockerignore",
        ]),
    );
    assert_eq!(DEFAULT_MAX_SOURCE_FILE_BYTES, 1024 * 1024 * 1024);
    assert!(outcome.starts_with("refused"), "{outcome}");
}

/// The process's peak resident memory, in KiB.
fn peak_resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn large_file_under_the_limit_is_streamed() {
    // 256 MiB of zeros (sparse on disk), packed into a sink that only counts: if the packer held
    // the file in memory, the process's peak resident memory would grow by at least that much.
    const SIZE: u64 = 256 * 1024 * 1024;
    struct CountingSink(u64);
    impl Write for CountingSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let tree = temp_dir();
    let file = std::fs::File::create(tree.path().join("fixtures.bin")).unwrap();
    file.set_len(SIZE).unwrap();
    let peak_before = peak_resident_kib();
    let started = Instant::now();
    let mut sink = CountingSink(0);
    let summary = pack_source_tree(
        tree.path(),
        &SourceRules::default(),
        &PackOptions::default(),
        &mut sink,
    )
    .unwrap();
    let elapsed = started.elapsed();
    let growth_mib = peak_resident_kib().saturating_sub(peak_before) / 1024;
    assert_eq!(summary.n_bytes, SIZE);
    assert!(sink.0 > 0 && sink.0 < SIZE / 100, "zeros compress");
    assert!(
        growth_mib < 128,
        "peak memory grew by {growth_mib} MiB while packing a 256 MiB file"
    );
    assert!(elapsed < TIME_BOUND, "took {elapsed:?}");
    record(
        Category::BadSourceTree,
        "large_file_under_the_limit",
        "fixtures.bin, a sparse 256 MiB file (under the 1 GiB limit)",
        &format!(
            "packed, streamed: {} bytes in, {} gzip bytes out, peak memory grew by {growth_mib} MiB (< 128), {} ms",
            summary.n_bytes,
            sink.0,
            elapsed.as_millis()
        ),
        "dockyard-context::bad_source_trees::large_file_under_the_limit_is_streamed",
    );
}

#[test]
fn the_limit_is_configurable() {
    let tree = temp_dir();
    write_file(tree.path(), "small.txt", &[b'x'; 10]);
    write_file(tree.path(), "big.txt", &[b'x'; 11]);
    let rules = SourceRules {
        max_file_bytes: Some(10),
        ..SourceRules::default()
    };
    let error = pack_source_to_bytes(tree.path(), &rules).unwrap_err();
    assert!(
        matches!(&error, ContextError::SourceFileTooLarge { path, size: 11, limit: 10 } if path == Path::new("big.txt")),
        "{error:?}"
    );
    std::fs::remove_file(tree.path().join("big.txt")).unwrap();
    let (summary, _) = pack_source_to_bytes(tree.path(), &rules).unwrap();
    assert_eq!(summary.n_bytes, 10, "a file at the limit is packed");
}
