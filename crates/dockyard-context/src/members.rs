//! In-memory tarball members ([`Member`]) and the validation that turns them into a sorted entry list.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::ContextError;

/// One in-memory file for [`crate::pack_members`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Relative, `/`-separated path (no empty, `.` or `..` components, no leading or trailing `/`).
    pub path: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Packed with mode `0o755` when true, `0o644` otherwise.
    pub executable: bool,
}

impl Member {
    /// A non-executable member.
    pub fn regular_file(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Member {
            path: path.into(),
            bytes: bytes.into(),
            executable: false,
        }
    }

    /// An executable member.
    pub fn executable_file(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Member {
            path: path.into(),
            bytes: bytes.into(),
            executable: true,
        }
    }
}

/// What a validated member path becomes in the tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberEntryKind {
    /// A parent folder implied by a nested member.
    Directory,
    /// The member at this index.
    File { member_index: usize },
}

/// Validates member paths and returns them, with implied parent folders, in tarball order.
pub(crate) fn collect_members(
    members: &[Member],
) -> Result<BTreeMap<PathBuf, MemberEntryKind>, ContextError> {
    let mut entries: BTreeMap<PathBuf, MemberEntryKind> = BTreeMap::new();
    // Who claimed each path, for clash messages.
    let mut claimed_by: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (member_index, member) in members.iter().enumerate() {
        let components = validate_member_path(&member.path)?;
        let mut folder = PathBuf::new();
        for component in &components[..components.len() - 1] {
            folder.push(component);
            match entries.get(&folder) {
                Some(MemberEntryKind::File {
                    member_index: other,
                }) => {
                    return Err(clash(member, &members[*other]));
                }
                Some(MemberEntryKind::Directory) => {}
                None => {
                    entries.insert(folder.clone(), MemberEntryKind::Directory);
                    claimed_by.insert(folder.clone(), member_index);
                }
            }
        }
        let file_path: PathBuf = components.iter().collect();
        if entries.contains_key(&file_path) {
            let other = claimed_by.get(&file_path).copied().unwrap_or(member_index);
            return Err(clash(member, &members[other]));
        }
        entries.insert(file_path.clone(), MemberEntryKind::File { member_index });
        claimed_by.insert(file_path, member_index);
    }
    Ok(entries)
}

fn clash(member: &Member, other: &Member) -> ContextError {
    ContextError::ConflictingMemberPath {
        path: member.path.clone(),
        other: other.path.clone(),
    }
}

fn validate_member_path(path: &str) -> Result<Vec<&str>, ContextError> {
    let invalid = |reason| ContextError::InvalidMemberPath {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return Err(invalid("the path is empty"));
    }
    if path.starts_with('/') {
        return Err(invalid("the path is absolute"));
    }
    if path.contains('\0') {
        return Err(invalid("the path contains a NUL byte"));
    }
    if path.contains('\\') {
        return Err(invalid("the path contains a backslash"));
    }
    let components: Vec<&str> = path.split('/').collect();
    for component in &components {
        match *component {
            "" => return Err(invalid("the path has an empty component")),
            "." => return Err(invalid("the path has a `.` component")),
            ".." => return Err(invalid("the path has a `..` component")),
            _ => {}
        }
    }
    Ok(components)
}
