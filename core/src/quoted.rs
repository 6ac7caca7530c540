//! A string in double quotes with the characters that could disguise a message escaped, for
//! error messages. Messages go through this rather than `{:?}` because the shipped
//! WebAssembly modules are built with `Debug` formatting compiled out (`-Zfmt-debug=none`),
//! where `{:?}` prints nothing; and `str`'s `Debug` brings Unicode's printable-character
//! tables into every module that uses it.

use std::fmt::{self, Display, Write};

/// `text` in double quotes. `"` and `\` are escaped, `\n`, `\r`, `\t` and `\0` by name, and
/// as `\u{..}` every character the user-name checks count as invisible
/// ([`crate::names`]: controls, zero-width spaces and joiners, directional marks and
/// overrides, the byte order mark, soft hyphens, variation selectors, tag characters).
/// Other characters stay as they are. For text without those rarer invisible ones this is
/// what `{:?}` prints.
#[derive(Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

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
                c if crate::names::is_invisible(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
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

    #[test]
    fn escapes_what_name_checks_count_as_invisible() {
        assert_eq!(
            Quoted("a\u{ad}b\u{fe0f}c\u{e0041}").to_string(),
            "\"a\\u{ad}b\\u{fe0f}c\\u{e0041}\""
        );
    }
}
