//! Symlinks in source trees: kept when relative and inside the tree, rejected when they escape.

use dockyard_context::{pack_tree, ContextError, PackOptions, SourceRules};

use crate::support::{
    entry_paths, list_entries, make_symlink, pack_source_to_bytes, render_error, temp_dir,
    write_file,
};

#[test]
fn relative_symlinks_inside_the_tree_are_stored_as_symlinks() {
    let root = temp_dir();
    write_file(root.path(), "app/settings.py", b"DEBUG = False\n");
    make_symlink(root.path(), "settings.py", "app/settings.py");
    make_symlink(root.path(), "app/again.py", "./settings.py");
    make_symlink(root.path(), "app/deep/up.py", "../settings.py");
    make_symlink(root.path(), "app_link", "app");
    make_symlink(root.path(), "dangling", "not-there-yet");
    make_symlink(root.path(), "self_dir", ".");
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    insta::assert_snapshot!("symlinks_inside_the_tree", list_entries(&bytes));
    assert_eq!(summary.n_symlinks, 6);
    assert_eq!(summary.n_files, 1, "symlinked folders are not followed");
}

#[test]
fn escaping_symlinks_are_rejected() {
    let cases = [
        ("absolute", "/etc/passwd"),
        ("up_and_out", "../outside"),
        ("sub/climbs", "../../outside"),
        ("sub/sneaky", "x/../../../outside"),
    ];
    let mut rendered = Vec::new();
    for (link, target) in cases {
        let root = temp_dir();
        write_file(root.path(), "app.py", b"");
        make_symlink(root.path(), link, target);
        let error = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap_err();
        assert!(
            matches!(&error, ContextError::SymlinkEscapes { path, target: stored }
                if path.to_str() == Some(link) && stored.to_str() == Some(target)),
            "{error:?}"
        );
        let mut out = Vec::new();
        let tree_error = pack_tree(root.path(), &PackOptions::default(), &mut out).unwrap_err();
        assert!(matches!(tree_error, ContextError::SymlinkEscapes { .. }));
        rendered.push(render_error(&error, &[(root.path(), "[TREE]")]));
    }
    insta::assert_snapshot!("escaping_symlink_errors", rendered.join("\n\n"));
}

#[test]
fn an_escaping_symlink_listed_in_dockerignore_is_fine() {
    let root = temp_dir();
    write_file(root.path(), "app.py", b"");
    make_symlink(root.path(), "venv/python", "/usr/bin/python3");
    write_file(root.path(), ".dockerignore", b"venv\n");
    let rules = SourceRules {
        dockerignore: Some(root.path().join(".dockerignore")),
        extra_deny: Vec::new(),
        max_file_bytes: None,
    };
    let (_, bytes) = pack_source_to_bytes(root.path(), &rules).unwrap();
    assert_eq!(entry_paths(&bytes), vec![".dockerignore", "app.py"]);
}
