//! Splitting a `run` value into arguments: blanks separate, `'…'` is
//! literal, `"…"` and `\` escape, adjacent pieces join, as in a shell
//! without any expansion.

use crate::limits::MAX_ARGS;
// Why a `run` value is wrong (the table reports them at the value's line).
use crate::table::msg::{self, Msg};

/// Splits a `run` value into arguments like a shell, without expansions:
/// blanks separate; `'…'` is literal; in `"…"` and outside quotes a
/// backslash takes the next byte as it is; adjacent pieces join. Each byte
/// goes to `out`, and `None` after each argument. Returns the number of
/// arguments, or the message saying why the value is wrong.
pub fn words(text: &[u8], out: &mut dyn FnMut(Option<u8>)) -> Result<u8, Msg> {
    let mut argc: u8 = 0;
    let mut open = false;
    // The program's first byte, and whether it holds a `/`.
    let mut program: Option<(u8, bool)> = None;
    let mut bytes = text.iter().copied();
    loop {
        let b = bytes.next();
        if matches!(b, None | Some(b' ' | b'\t')) {
            if open && argc == 0 && !matches!(program, Some((b'/', _) | (_, false))) {
                return Err(msg::PROGRAM);
            }
            if open {
                (open, argc) = (false, argc.saturating_add(1));
                out(None);
            }
            if b.is_none() {
                return if argc == 0 {
                    Err(msg::PROGRAM)
                } else {
                    Ok(argc)
                };
            }
            continue;
        }
        if !open && usize::from(argc) >= MAX_ARGS {
            return Err(msg::ARGS);
        }
        open = true;
        let mut put = |c: u8| {
            if argc == 0 {
                let (lead, slash) = program.unwrap_or((c, false));
                program = Some((lead, slash || c == b'/'));
            }
            out(Some(c));
        };
        match b {
            Some(b'\'') => loop {
                match bytes.next().ok_or(msg::QUOTE)? {
                    b'\'' => break,
                    c => put(c),
                }
            },
            Some(b'"') => loop {
                match bytes.next().ok_or(msg::DQUOTE)? {
                    b'"' => break,
                    b'\\' => put(bytes.next().ok_or(msg::DQUOTE)?),
                    c => put(c),
                }
            },
            Some(b'\\') => put(bytes.next().ok_or(msg::BACKSLASH)?),
            Some(c) => put(c),
            None => {}
        }
    }
}
