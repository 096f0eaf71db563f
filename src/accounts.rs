//! Users and groups, from the contents of /etc/passwd and /etc/group, for
//! the table's `user` and `group` keys. Pure: the caller reads the files.

use crate::limits::MAX_GROUPS;

/// Resolves user and group names (from /etc/passwd and /etc/group).
pub trait Accounts {
    /// `(uid, primary gid)` of a user name.
    fn user(&self, name: &[u8]) -> Option<(u32, u32)>;
    /// `(uid, primary gid)` of a numeric uid, when it has an entry.
    fn user_by_id(&self, uid: u32) -> Option<(u32, u32)>;
    fn group(&self, name: &[u8]) -> Option<u32>;
    /// Adds the gids of every group that lists `user` as a member.
    fn groups_of(&self, user: &[u8], out: &mut heapless::Vec<u32, MAX_GROUPS>);
}

/// [`Accounts`] over the text of /etc/passwd and /etc/group. Malformed lines
/// are skipped.
pub struct EtcAccounts<'a> {
    pub passwd: &'a [u8],
    pub group: &'a [u8],
}

/// The name, the third field as a number and the fourth field of each line
/// of an /etc file (`name:x:uid:gid:…`, `name:x:gid:members`).
fn etc_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], u32, &[u8])> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let mut fields = line.trim_ascii_end().split(|&b| b == b':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let id = fields.nth(1).and_then(id_number)?;
        Some((name, id, fields.next().unwrap_or(&[])))
    })
}

impl EtcAccounts<'_> {
    /// `(name, (uid, gid))` of each user.
    fn users(&self) -> impl Iterator<Item = (&[u8], (u32, u32))> {
        etc_lines(self.passwd).filter_map(|(name, uid, gid)| Some((name, (uid, id_number(gid)?))))
    }
}

impl Accounts for EtcAccounts<'_> {
    fn user(&self, name: &[u8]) -> Option<(u32, u32)> {
        self.users().find(|u| u.0 == name).map(|u| u.1)
    }

    fn user_by_id(&self, uid: u32) -> Option<(u32, u32)> {
        self.users().find(|&(_, (id, _))| id == uid).map(|u| u.1)
    }

    fn group(&self, name: &[u8]) -> Option<u32> {
        etc_lines(self.group).find(|g| g.0 == name).map(|g| g.1)
    }

    fn groups_of(&self, user: &[u8], out: &mut heapless::Vec<u32, MAX_GROUPS>) {
        for (_, gid, members) in etc_lines(self.group) {
            let member = members.split(|&b| b == b',').any(|m| m == user);
            if member && !out.contains(&gid) {
                let _ = out.push(gid);
            }
        }
    }
}

/// A uid or gid as a number (`u32::MAX` means "unchanged" to the kernel).
pub fn id_number(text: &[u8]) -> Option<u32> {
    let n = crate::say::parse_u64(text).and_then(|n| u32::try_from(n).ok());
    n.filter(|&n| n != u32::MAX)
}
