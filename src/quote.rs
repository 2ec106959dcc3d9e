//! Quoting values from outside (file contents, HTTP bodies, zip member names, payloads) in
//! error messages and logs: short and inert.
//!
//! A value is cut to [`MAX_QUOTED_CHARS`] characters (an ellipsis `…` marks the cut) and its
//! control characters are escaped (`\n`, `\r`, `\t`, `\u{1b}`, …), so a 50 MB line cannot make a
//! 50 MB log line, a quoted `\n` cannot forge a log line of its own, and an escape sequence
//! cannot reach the terminal. Every message that quotes an outside value goes through
//! [`quote`] (or [`quote_bytes`] for bytes that may not be UTF-8).

use std::fmt::Write as _;

/// The most characters of a value a message quotes (escapes count as the character they
/// stand for).
pub const MAX_QUOTED_CHARS: usize = 60;

/// `value`, cut to [`MAX_QUOTED_CHARS`] characters (followed by `…` when cut) with control
/// characters escaped as Rust escapes them (`\n`, `\u{1b}`). The result holds no control
/// character and is at most a few hundred bytes long, whatever `value` is.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_QUOTED_CHARS * 2) + 3);
    let mut chars = value.chars();
    for c in chars.by_ref().take(MAX_QUOTED_CHARS) {
        push_escaped(&mut out, c);
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// [`quote`] for bytes: invalid UTF-8 shows as `\x..` escapes. Only the first few hundred
/// bytes are looked at.
pub fn quote_bytes(value: &[u8]) -> String {
    // Four bytes per character at most: enough to fill the quote and see that there is more.
    let head = &value[..value.len().min(MAX_QUOTED_CHARS * 4 + 4)];
    let mut out = String::new();
    let mut shown = 0;
    let mut rest = head;
    let mut cut = false;
    'outer: while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // `valid_up_to` marks a UTF-8 boundary, so this cannot fail.
                (std::str::from_utf8(ok).unwrap_or_default(), tail.first())
            }
        };
        for c in valid.chars() {
            if shown == MAX_QUOTED_CHARS {
                cut = true;
                break 'outer;
            }
            push_escaped(&mut out, c);
            shown += 1;
        }
        match bad {
            Some(b) => {
                if shown == MAX_QUOTED_CHARS {
                    cut = true;
                    break;
                }
                let _ = write!(out, "\\x{b:02x}");
                shown += 1;
                rest = &rest[valid.len() + 1..];
            }
            None => break,
        }
    }
    if cut || head.len() < value.len() {
        out.push('…');
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_pass_unchanged() {
        assert_eq!(quote("Hydro"), "Hydro");
        assert_eq!(quote(""), "");
        assert_eq!(quote("Gen MW ü"), "Gen MW ü");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(quote("a\nerror: forged"), "a\\nerror: forged");
        assert_eq!(quote("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(quote("tab\there\r"), "tab\\there\\r");
        assert!(!quote("\u{7f}\u{9b}x").chars().any(char::is_control));
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        let long = "9".repeat(50_000_000);
        let q = quote(&long);
        assert_eq!(q, format!("{}…", "9".repeat(MAX_QUOTED_CHARS)));
        let exact = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quote(&exact), exact);
        // Escapes make the quote longer but never unbounded.
        let newlines = "\n".repeat(1000);
        assert!(quote(&newlines).len() <= MAX_QUOTED_CHARS * 10 + 3);
    }

    #[test]
    fn bytes_are_quoted_with_invalid_utf8_escaped() {
        assert_eq!(quote_bytes(b"abc"), "abc");
        assert_eq!(quote_bytes(b"a\xffb\n"), "a\\xffb\\n");
        let long = vec![b'z'; 10_000];
        assert_eq!(
            quote_bytes(&long),
            format!("{}…", "z".repeat(MAX_QUOTED_CHARS))
        );
        let exact = vec![b'z'; MAX_QUOTED_CHARS];
        assert_eq!(quote_bytes(&exact), "z".repeat(MAX_QUOTED_CHARS));
        let bad = vec![0xffu8; 10_000];
        let q = quote_bytes(&bad);
        assert!(q.ends_with('…') && q.len() < 400, "{q}");
    }
}
