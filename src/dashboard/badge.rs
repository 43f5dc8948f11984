//! The `<recipe>.svg` badge, drawn like the flat badges people know from
//! shields: a grey label, a coloured message, text in Verdana 11px with a
//! shadow. Text widths come from a per-character table of Verdana's advance
//! widths at 11px (rounded), so a long level does not overflow its box.

use std::fmt::Write as _;

/// What a badge says and in which colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    pub message: String,
    /// A CSS hex colour, `#4c1`.
    pub color: &'static str,
}

pub const GREEN: &str = "#4c1";
pub const RED: &str = "#e05d44";
pub const GREY: &str = "#9f9f9f";

/// Advance width of one character in Verdana at 11px, in pixels (tenths
/// rounded). Characters outside the table count as a wide lowercase letter.
fn char_width(c: char) -> f64 {
    match c {
        ' ' => 3.9,
        'i' | 'l' | 'j' | '\'' | '|' | '.' | ',' | ':' | ';' | '!' => 3.4,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '/' | '-' => 4.6,
        'm' => 10.7,
        'w' | 'W' | 'M' => 9.6,
        'a' | 'b' | 'c' | 'd' | 'e' | 'g' | 'h' | 'k' | 'n' | 'o' | 'p' | 'q' | 's' | 'u' | 'v'
        | 'x' | 'y' | 'z' | '_' => 6.7,
        '0'..='9' => 7.0,
        'A'..='Z' => 7.6,
        _ => 7.0,
    }
}

/// Width of a text in Verdana 11px, rounded up to a whole pixel.
pub fn text_width(s: &str) -> u32 {
    s.chars().map(char_width).sum::<f64>().ceil() as u32
}

fn xml(s: &str) -> String {
    crate::generate::escape::html(s)
}

/// The SVG text of a badge.
pub fn svg(b: &Badge) -> String {
    const PAD: u32 = 10;
    let lw = text_width(&b.label) + PAD;
    let mw = text_width(&b.message) + PAD;
    let w = lw + mw;
    // Text is drawn at 10× and scaled down, as shields does, for crisp hinting.
    let lx = lw * 5;
    let mx = (lw * 10) + mw * 5;
    let ltl = (lw - PAD) * 10;
    let mtl = (mw - PAD) * 10;
    let label = xml(&b.label);
    let message = xml(&b.message);
    let title = format!("{label}: {message}");
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{title}"><title>{title}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{ltl}">{label}</text><text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{label}</text><text aria-hidden="true" x="{mx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{mtl}">{message}</text><text x="{mx}" y="140" transform="scale(.1)" fill="#fff" textLength="{mtl}">{message}</text></g></svg>"##,
        color = b.color,
    );
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_text_measures_wider() {
        assert!(text_width("backup_restore") > text_width("install"));
        assert!(text_width("mmm") > text_width("iii"));
        assert_eq!(text_width(""), 0);
    }

    #[test]
    fn badge_text_is_escaped() {
        let s = svg(&Badge {
            label: "a<b".into(),
            message: "\"&".into(),
            color: GREY,
        });
        assert!(s.contains("a&lt;b") && s.contains("&quot;&amp;"));
        assert!(!s.contains("a<b"));
    }
}
