//! `pack_members`: in-memory files packed deterministically.

use dockyard_context::{pack_members, ContextError, Member, PackOptions, PackSummary};

use crate::support::{list_entries, render_error};

fn pack(members: &[Member]) -> Result<(PackSummary, Vec<u8>), ContextError> {
    let mut bytes = Vec::new();
    let summary = pack_members(members, &PackOptions::default(), &mut bytes)?;
    Ok((summary, bytes))
}

fn build_members() -> Vec<Member> {
    vec![
        Member::regular_file("Dockerfile", "FROM python:3.13-slim\nCOPY . /app\n"),
        Member::executable_file("scripts/entrypoint.sh", "#!/bin/sh\nexec gunicorn\n"),
        Member::regular_file("scripts/gunicorn.conf.py", "workers = 4\n"),
        Member::regular_file(".dockerignore", "*\n!app\n"),
    ]
}

#[test]
fn member_order_does_not_change_the_tarball() {
    let members = build_members();
    let mut reversed = members.clone();
    reversed.reverse();
    let (summary, bytes) = pack(&members).unwrap();
    let (reversed_summary, reversed_bytes) = pack(&reversed).unwrap();
    assert_eq!(summary, reversed_summary);
    assert_eq!(bytes, reversed_bytes);
    insta::assert_snapshot!("members_listing", list_entries(&bytes));
    assert_eq!(
        (summary.n_files, summary.n_dirs, summary.n_symlinks),
        (4, 1, 0)
    );
    assert_eq!(
        summary.n_bytes,
        members
            .iter()
            .map(|member| member.bytes.len() as u64)
            .sum::<u64>()
    );
}

#[test]
fn bytes_and_exec_bits_change_the_digest() {
    let base = pack(&build_members()).unwrap().0.sha256;

    let mut edited = build_members();
    edited[0].bytes.push(b'\n');
    assert_ne!(base, pack(&edited).unwrap().0.sha256);

    let mut not_executable = build_members();
    not_executable[1].executable = false;
    assert_ne!(base, pack(&not_executable).unwrap().0.sha256);

    assert_eq!(base, pack(&build_members()).unwrap().0.sha256);
}

#[test]
fn empty_member_list_is_an_empty_archive() {
    let (summary, bytes) = pack(&[]).unwrap();
    assert_eq!(list_entries(&bytes), "");
    assert_eq!(summary.n_files, 0);
}

#[test]
fn invalid_and_clashing_paths_are_rejected() {
    let cases: Vec<Vec<Member>> = vec![
        vec![Member::regular_file("", "x")],
        vec![Member::regular_file("/etc/passwd", "x")],
        vec![Member::regular_file("../escape", "x")],
        vec![Member::regular_file("a/./b", "x")],
        vec![Member::regular_file("a//b", "x")],
        vec![Member::regular_file("dir/", "x")],
        vec![Member::regular_file("a\\b", "x")],
        vec![
            Member::regular_file("Dockerfile", "x"),
            Member::regular_file("Dockerfile", "y"),
        ],
        vec![
            Member::regular_file("scripts", "x"),
            Member::regular_file("scripts/run.sh", "y"),
        ],
        vec![
            Member::regular_file("scripts/run.sh", "y"),
            Member::regular_file("scripts", "x"),
        ],
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|members| render_error(&pack(members).unwrap_err(), &[]))
        .collect();
    insta::assert_snapshot!("member_errors", rendered.join("\n\n"));
}
