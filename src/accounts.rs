//! Users and groups, from the contents of /etc/passwd and /etc/group, for
//! the table's `user` and `group` keys. Pure: the caller reads the files.

use crate::limits::MAX_GROUPS;

/// Resolves user and group names over the text of /etc/passwd and
/// /etc/group. Malformed lines are skipped.
pub struct EtcAccounts<'a> {
    pub passwd: &'a [u8],
    pub group: &'a [u8],
}

/// The lines of `text` (of an /etc file, or of the table).
pub(crate) fn lines(text: &[u8]) -> core::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    crate::say::split(text, b'\n')
}

/// The name, the third field as a number and the fourth field of each line
/// of an /etc file (`name:x:uid:gid:…`, `name:x:gid:members`).
fn etc_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], u32, &[u8])> {
    lines(text).filter_map(|line| {
        let mut fields = crate::say::split(line.trim_ascii_end(), b':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let id = fields.nth(1).and_then(id_number)?;
        Some((name, id, fields.next().unwrap_or(&[])))
    })
}

/// The first line of an /etc file named `name` (or, with `id`, of that
/// id), as its id and, for /etc/passwd (`user`), its gid; a user's line
/// whose gid is not a number is skipped. One search for the three lookups.
#[inline(never)]
fn find(text: &[u8], name: &[u8], id: Option<u32>, user: bool) -> Option<(u32, u32)> {
    etc_lines(text).find_map(|(n, i, rest)| {
        let gid = if user { id_number(rest)? } else { 0 };
        let hit = match id {
            Some(id) => i == id,
            None => n == name,
        };
        hit.then_some((i, gid))
    })
}

impl EtcAccounts<'_> {
    /// `(uid, primary gid)` of the user named `name`, or with `uid`, of
    /// that uid when it has an entry.
    pub fn user(&self, name: &[u8], uid: Option<u32>) -> Option<(u32, u32)> {
        find(self.passwd, name, uid, true)
    }

    pub fn group(&self, name: &[u8]) -> Option<u32> {
        find(self.group, name, None, false).map(|g| g.0)
    }

    /// Adds the gids of every group that lists `user` as a member.
    pub fn groups_of(&self, user: &[u8], out: &mut Groups) {
        for (_, gid, members) in etc_lines(self.group) {
            if crate::say::split(members, b',').any(|m| m == user) {
                add_group(out, gid);
            }
        }
    }
}

/// A list of gids.
pub type Groups = heapless::Vec<u32, MAX_GROUPS, u8>;

/// Adds `gid` to `groups` unless it is there (or there is no room).
#[inline(never)]
pub fn add_group(groups: &mut Groups, gid: u32) {
    if groups.iter().all(|&g| g != gid) {
        let _ = groups.push(gid);
    }
}

/// A uid or gid as a number (`u32::MAX` means "unchanged" to the kernel).
pub fn id_number(text: &[u8]) -> Option<u32> {
    match crate::say::parse_u64(text) {
        Some(n @ ..0xffff_ffff) => Some(n as u32),
        _ => None,
    }
}
