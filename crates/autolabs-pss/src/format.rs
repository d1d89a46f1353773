//! The small text helpers upstream's checks build their messages with.
//!
//! `k8s.io/pod-security-admission/policy/helpers.go` (`joinQuote`, `pluralize`) and Go's
//! `%q` verb (`strconv.Quote`), so our reasons and details match upstream byte for byte.

use std::fmt::Write as _;

/// `pluralize`: the singular form when `count == 1`, else the plural form.
// k8s.io/pod-security-admission/policy/helpers.go pluralize
pub(crate) fn pluralize(singular: &'static str, plural: &'static str, count: usize) -> &'static str {
    if count == 1 { singular } else { plural }
}

/// `joinQuote`: `"a", "b", "c"` (no escaping, like upstream); empty input gives "".
// k8s.io/pod-security-admission/policy/helpers.go joinQuote
pub(crate) fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(item.as_ref());
        out.push('"');
    }
    out
}

/// Go's `%q` for strings (`strconv.Quote`): double quotes, backslash escapes for quotes,
/// backslashes and non-printable characters; printable Unicode is kept as is.
///
/// Go decides "printable" with `unicode.IsPrint` (Unicode general categories); Rust's std has
/// no category table, so we treat control characters, non-ASCII white space and the common
/// invisible format characters as non-printable. Identical for every ASCII input.
// strconv.Quote (Go standard library), used by upstream through fmt.Sprintf("%q")
pub(crate) fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Approximation of Go's `unicode.IsPrint` for non-ASCII-control characters.
fn is_go_printable(ch: char) -> bool {
    if ch == ' ' {
        return true;
    }
    if ch.is_control() || ch.is_whitespace() {
        return false;
    }
    // Common format (Cf) characters: soft hyphen, zero-width and bidi marks, BOM.
    !matches!(ch as u32, 0xAD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0xFEFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pluralize_picks_by_count() {
        // k8s.io/pod-security-admission/policy/helpers.go pluralize
        let rows = [(0, "containers"), (1, "container"), (2, "containers")];
        for (count, want) in rows {
            assert_eq!(pluralize("container", "containers", count), want, "count {count}");
        }
    }

    #[test]
    fn join_quote_wraps_each_item() {
        // k8s.io/pod-security-admission/policy/helpers.go joinQuote
        let rows: [(&[&str], &str); 3] =
            [(&[], ""), (&["a"], r#""a""#), (&["a", "b", "c"], r#""a", "b", "c""#)];
        for (items, want) in rows {
            assert_eq!(join_quote(items), want);
        }
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        // strconv.Quote
        let rows = [
            ("", r#""""#),
            ("unconfined", r#""unconfined""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\there\nnl", r#""tab\there\nnl""#),
            ("\u{1}\u{7f}", r#""\x01\x7f""#),
            ("héllo ✓", "\"héllo ✓\""),
            ("nb\u{a0}sp", r#""nb\u00a0sp""#),
        ];
        for (input, want) in rows {
            assert_eq!(go_quote(input), want, "input {input:?}");
        }
    }
}
