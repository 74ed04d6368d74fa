//! FIFOs, sockets, unreadable files and bad roots in source trees.
#![allow(
    clippy::disallowed_methods,
    reason = "the test makes FIFOs with mkfifo"
)]

use std::path::Path;
use std::process::Command;

use dockyard_context::{pack_source_tree, pack_tree, ContextError, PackOptions, SourceRules};

use crate::support::{pack_source_to_bytes, render_error, set_mode, temp_dir, write_file};

fn make_fifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn fifo_is_rejected_with_a_dockerignore_hint() {
    let root = temp_dir();
    write_file(root.path(), "app.py", b"");
    std::fs::create_dir(root.path().join("run")).unwrap();
    make_fifo(&root.path().join("run/control.fifo"));
    let error = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap_err();
    assert!(matches!(
        &error,
        ContextError::UnsupportedFileType { path, kind: "fifo" } if path == Path::new("run/control.fifo")
    ));
    let mut out = Vec::new();
    let tree_error = pack_tree(root.path(), &PackOptions::default(), &mut out).unwrap_err();
    assert!(matches!(
        tree_error,
        ContextError::UnsupportedFileType { .. }
    ));
    insta::assert_snapshot!("fifo_error", render_error(&error, &[]));
}

#[test]
fn unix_socket_is_rejected() {
    let root = temp_dir();
    let socket_path = root.path().join("gunicorn.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let error = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap_err();
    assert!(matches!(
        error,
        ContextError::UnsupportedFileType { kind: "socket", .. }
    ));
}

#[test]
fn unreadable_file_error_names_the_path() {
    let root = temp_dir();
    write_file(root.path(), "secret_settings.py", b"X = 1\n");
    set_mode(root.path(), "secret_settings.py", 0o000);
    if std::fs::File::open(root.path().join("secret_settings.py")).is_ok() {
        // Running as root: permissions cannot make the file unreadable; nothing to test.
        return;
    }
    let error = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap_err();
    assert!(
        matches!(error, ContextError::ReadFile { ref path, .. } if path.ends_with("secret_settings.py"))
    );
}

#[test]
fn root_must_be_a_directory() {
    let root = temp_dir();
    write_file(root.path(), "file.txt", b"");
    let mut out = Vec::new();
    let not_a_folder = pack_source_tree(
        &root.path().join("file.txt"),
        &SourceRules::default(),
        &PackOptions::default(),
        &mut out,
    )
    .unwrap_err();
    let missing = pack_tree(
        &root.path().join("missing"),
        &PackOptions::default(),
        &mut out,
    )
    .unwrap_err();
    insta::assert_snapshot!(
        "root_errors",
        [
            render_error(&not_a_folder, &[(root.path(), "[TMP]")]),
            render_error(&missing, &[(root.path(), "[TMP]")]),
        ]
        .join("\n\n")
    );
}

#[test]
fn write_errors_on_the_output_stream_are_reported() {
    struct BrokenPipe;
    impl std::io::Write for BrokenPipe {
        fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let root = temp_dir();
    write_file(root.path(), "app.py", &vec![b'x'; 200_000]);
    let error = pack_source_tree(
        root.path(),
        &SourceRules::default(),
        &PackOptions::default(),
        BrokenPipe,
    )
    .unwrap_err();
    assert!(
        matches!(error, ContextError::WriteArchive { .. }),
        "{error:?}"
    );
}
