//! A string in double quotes with the characters that could disguise a message escaped, for
//! error messages. Messages go through this rather than `{:?}` because the shipped
//! WebAssembly modules are built with `Debug` formatting compiled out (`-Zfmt-debug=none`),
//! where `{:?}` prints nothing; and `str`'s `Debug` brings Unicode's printable-character
//! tables into every module that uses it.

use std::fmt::{self, Display, Write};

/// `text` in double quotes. Escaped as `{:?}` escapes them: `"`, `\`, the ASCII control
/// characters (`\n`, `\r`, `\t`, `\0` by name, others as `\u{..}`); and, as `\u{..}`, the
/// invisible and direction-changing format characters (zero-width spaces and joiners,
/// directional marks, embeddings, overrides and isolates, the byte order mark). Other
/// characters stay as they are (where `{:?}` would escape some rarer non-printable ones).
#[derive(Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

fn escaped(c: char) -> bool {
    matches!(
        c,
        '\0'..='\u{1f}'
            | '\u{7f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                c if escaped(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::Quoted;

    #[test]
    fn quotes_as_debug_does() {
        for text in [
            "",
            "bob",
            "it's",
            "say \"hi\"",
            "back\\slash",
            "line\nbreak\ttab\r",
            "nul\0bell\u{7}esc\u{1b}del\u{7f}",
            "bоb ünïcode ✓ 日本",
            "\u{202e}rtl\u{2066}iso\u{2069}",
            "zero\u{200b}width\u{200d}joiner\u{feff}",
        ] {
            assert_eq!(Quoted(text).to_string(), format!("{text:?}"), "{text:?}");
        }
    }
}
