//! Splitting a `run` value into arguments: blanks separate, `'…'` is
//! literal, `"…"` and `\` escape, adjacent pieces join, as in a shell
//! without any expansion.

use crate::limits::MAX_ARGS;

/// Why a `run` value is wrong. The table says it in words at the value's
/// line: the first of its messages are these, in this order.
#[derive(Clone, Copy)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub enum Bad {
    /// A `'` without its closing one.
    Quote,
    /// A `"` without its closing one.
    DQuote,
    /// A `\` with nothing after it.
    Backslash,
    /// More than [`MAX_ARGS`] arguments.
    Args,
    /// A program neither absolute nor a bare name.
    Program,
}

/// Splits a `run` value into arguments like a shell, without expansions:
/// blanks separate; `'…'` is literal; in `"…"` and outside quotes a
/// backslash takes the next byte as it is; adjacent pieces join. Each byte
/// goes to `out`, and `None` after each argument. Returns the number of
/// arguments, or the message saying why the value is wrong.
pub fn words(text: &[u8], out: &mut dyn FnMut(Option<u8>)) -> Result<u8, Bad> {
    let mut argc: u8 = 0;
    let mut open = false;
    // The quote being read (`'` or `"`), or 0.
    let mut quote = 0u8;
    // The program's first byte (0: none yet; a table line holds no NUL),
    // and whether it holds a `/`.
    let (mut lead, mut slash) = (0u8, false);
    let mut bytes = text.iter().copied();
    loop {
        let b = bytes.next();
        if quote == 0 && matches!(b, None | Some(b' ' | b'\t')) {
            if open {
                if argc == 0 && lead != b'/' && (lead == 0 || slash) {
                    return Err(Bad::Program);
                }
                // (Below MAX_ARGS: no overflow.)
                (open, argc) = (false, argc + 1);
                out(None);
            }
            if b.is_none() {
                return if argc == 0 {
                    Err(Bad::Program)
                } else {
                    Ok(argc)
                };
            }
            continue;
        }
        let Some(mut c) = b else {
            return Err(if quote == b'\'' {
                Bad::Quote
            } else {
                Bad::DQuote
            });
        };
        if quote == 0 {
            if !open && usize::from(argc) >= MAX_ARGS {
                return Err(Bad::Args);
            }
            open = true;
            if c == b'\'' || c == b'"' {
                quote = c;
                continue;
            }
        } else if c == quote {
            quote = 0;
            continue;
        }
        // A backslash, but in `'…'`, takes the next byte as it is; none
        // after it is a lone backslash, or a `"…"` left open.
        if c == b'\\' && quote != b'\'' {
            let end = if quote == 0 {
                Bad::Backslash
            } else {
                Bad::DQuote
            };
            c = bytes.next().ok_or(end)?;
        }
        if argc == 0 {
            if lead == 0 {
                lead = c;
            }
            slash |= c == b'/';
        }
        out(Some(c));
    }
}
