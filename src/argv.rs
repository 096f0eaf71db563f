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
    // The quote being read (`'` or `"`), or 0; whether a backslash came
    // just before.
    let mut quote = 0u8;
    let mut escaped = false;
    // The program's first byte, and whether it holds a `/`.
    let mut program: Option<(u8, bool)> = None;
    let mut i = 0;
    loop {
        let b = text.get(i).copied();
        i += 1;
        let c = match (b, quote) {
            (Some(c), _) if escaped => {
                escaped = false;
                c
            }
            (None, b'\'') => return Err(msg::QUOTE),
            (None, b'"') => return Err(msg::DQUOTE),
            (None, _) if escaped => return Err(msg::BACKSLASH),
            (None | Some(b' ' | b'\t'), 0) => {
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
            (Some(c), 0) => {
                if !open && usize::from(argc) >= MAX_ARGS {
                    return Err(msg::ARGS);
                }
                open = true;
                match c {
                    b'\'' | b'"' => quote = c,
                    b'\\' => escaped = true,
                    _ => {}
                }
                if quote != 0 || escaped {
                    continue;
                }
                c
            }
            (Some(c), q) if c == q => {
                quote = 0;
                continue;
            }
            (Some(b'\\'), b'"') => {
                escaped = true;
                continue;
            }
            (Some(c), _) => c,
            // Not reached: `quote` is 0, `'` or `"`.
            (None, _) => return Err(msg::DQUOTE),
        };
        if argc == 0 {
            let (lead, slash) = program.unwrap_or((c, false));
            program = Some((lead, slash || c == b'/'));
        }
        out(Some(c));
    }
}
