//! Look-alike user names.
//!
//! The backend accepts any string as a user name, so `bоb` (with a Cyrillic `о`), `bob\u{200b}`
//! (a zero-width space), `\u{202e}bob` (a right-to-left override) and `ｂｏｂ` (full-width
//! letters) are all distinct accounts that a person reads as "bob". [`check_username`] flags
//! such names so that a client can warn before a message goes to the wrong account: names
//! that are not plain ASCII, that hold invisible or direction-changing characters, that
//! mix scripts, or whose confusable skeleton (Unicode TS #39) equals a known contact's.
//!
//! It is a pure function over the name and the contacts' names, so every platform shows the
//! same warnings.

#[cfg(feature = "unicode-names")]
use unicode_normalization::UnicodeNormalization;
#[cfg(feature = "unicode-names")]
use unicode_security::{MixedScript, skeleton};

use crate::quoted::Quoted;

/// Why a user name deserves a second look. Serializes as `{"kind": "<snake_case>", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum NameIssue {
    /// The name has characters outside printable ASCII (an accent, another script, an
    /// emoji…): not wrong in itself, but letters of other scripts can imitate Latin ones.
    NotAscii,
    /// The name holds characters that show nothing or reorder the text around them
    /// (zero-width spaces and joiners, direction overrides, other format characters), as
    /// `U+XXXX` code points.
    Invisible {
        /// The code points, e.g. `["U+200B"]`.
        code_points: Vec<String>,
    },
    /// Letters of more than one script (e.g. Latin with a Cyrillic `о`).
    MixedScripts,
    /// The name changes under compatibility normalization (NFKC): it uses variant forms
    /// such as full-width letters (`ｂｏｂ`) or ligatures that stand for plainer ones.
    NotNormalized {
        /// The normalized form.
        normalized: String,
    },
    /// The name looks like a known contact's name without being it.
    LooksLike {
        /// The contact's name.
        contact: String,
    },
}

impl std::fmt::Display for NameIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameIssue::NotAscii => f.write_str("it has characters outside plain ASCII"),
            NameIssue::Invisible { code_points } => write!(
                f,
                "it has invisible or direction-changing characters ({})",
                code_points.join(", ")
            ),
            NameIssue::MixedScripts => f.write_str("it mixes letters of several scripts"),
            NameIssue::NotNormalized { normalized } => {
                write!(
                    f,
                    "it uses variant letter forms (normally {})",
                    Quoted(normalized)
                )
            }
            NameIssue::LooksLike { contact } => {
                write!(f, "it looks like your contact {}", Quoted(contact))
            }
        }
    }
}

/// What is suspicious about `name`, compared with the names of known `contacts` (empty
/// when nothing is). A contact with exactly this name is the same account and is not
/// reported.
pub fn check_username<'a>(
    name: &str,
    contacts: impl IntoIterator<Item = &'a str>,
) -> Vec<NameIssue> {
    let mut issues = Vec::new();
    if !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        issues.push(NameIssue::NotAscii);
    }
    let invisible: Vec<String> = name
        .chars()
        .filter(|c| is_invisible(*c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    if !invisible.is_empty() {
        issues.push(NameIssue::Invisible {
            code_points: invisible,
        });
    }
    #[cfg(feature = "unicode-names")]
    {
        if !name.is_single_script() {
            issues.push(NameIssue::MixedScripts);
        }
        let normalized: String = name.nfkc().collect();
        if normalized != name {
            issues.push(NameIssue::NotNormalized { normalized });
        }
    }
    #[cfg(not(feature = "unicode-names"))]
    {
        let normalized: String = name.chars().map(fold_full_width).collect();
        if normalized != name {
            issues.push(NameIssue::NotNormalized { normalized });
        }
    }
    let own = comparable(name);
    for contact in contacts {
        if contact != name && comparable(contact) == own {
            issues.push(NameIssue::LooksLike {
                contact: contact.to_string(),
            });
        }
    }
    issues
}

/// One line for people: `"bоb" may not be who it seems: it mixes letters of several
/// scripts; it looks like your contact "bob"`. `None` when nothing is suspicious.
pub fn describe(name: &str, issues: &[NameIssue]) -> Option<String> {
    if issues.is_empty() {
        return None;
    }
    let reasons: Vec<String> = issues.iter().map(ToString::to_string).collect();
    Some(format!(
        "the user name {} may not be who it seems: {}",
        Quoted(name),
        reasons.join("; ")
    ))
}

/// The form two names are compared in: without invisible characters, NFKC-normalized,
/// the TS #39 confusable skeleton, then ASCII case-folded (`Bob` and `bob` are two accounts
/// that read alike) and skeletonized again.
#[cfg(feature = "unicode-names")]
fn comparable(name: &str) -> String {
    let visible: String = name
        .chars()
        .filter(|c| !is_invisible(*c))
        .collect::<String>()
        .nfkc()
        .collect();
    let folded: String = skeleton(&visible).map(|c| c.to_ascii_lowercase()).collect();
    skeleton(&folded).collect()
}

/// Without the Unicode tables: without invisible characters, full-width forms folded to
/// ASCII, ASCII case-folded.
#[cfg(not(feature = "unicode-names"))]
fn comparable(name: &str) -> String {
    name.chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| fold_full_width(c).to_ascii_lowercase())
        .collect()
}

/// A full-width ASCII form (`ｂ`, U+FF42) as its ASCII letter.
#[cfg(not(feature = "unicode-names"))]
fn fold_full_width(c: char) -> char {
    match u32::from(c) {
        code @ 0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Characters that render as nothing or reorder the text: controls, zero-width spaces and
/// joiners, bidirectional controls, word joiners and invisible operators, the byte-order
/// mark, soft hyphens, variation selectors, tag characters and the Hangul fillers. Also what
/// [`crate::quoted::Quoted`] escapes in messages.
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(issues: &[NameIssue]) -> Vec<&'static str> {
        issues
            .iter()
            .map(|i| match i {
                NameIssue::NotAscii => "not_ascii",
                NameIssue::Invisible { .. } => "invisible",
                NameIssue::MixedScripts => "mixed_scripts",
                NameIssue::NotNormalized { .. } => "not_normalized",
                NameIssue::LooksLike { .. } => "looks_like",
            })
            .collect()
    }

    #[test]
    fn plain_names_pass() {
        for name in ["bob", "alice_1", "Bob Smith", "x-y.z"] {
            assert!(check_username(name, ["bob", "carol"]).is_empty(), "{name}");
        }
    }

    #[test]
    #[cfg(feature = "unicode-names")]
    fn a_cyrillic_letter_is_flagged_and_matched_with_the_contact() {
        let issues = check_username("b\u{043E}b", ["bob", "carol"]);
        assert_eq!(kinds(&issues), ["not_ascii", "mixed_scripts", "looks_like"]);
        assert_eq!(
            issues[2],
            NameIssue::LooksLike {
                contact: "bob".into()
            }
        );
    }

    #[test]
    fn invisible_and_direction_characters_are_flagged() {
        let issues = check_username("bob\u{200B}", ["bob"]);
        assert_eq!(kinds(&issues), ["not_ascii", "invisible", "looks_like"]);
        assert_eq!(
            issues[1],
            NameIssue::Invisible {
                code_points: vec!["U+200B".into()]
            }
        );
        let issues = check_username("\u{202E}bob", ["bob"]);
        assert!(kinds(&issues).contains(&"invisible"));
        assert!(kinds(&issues).contains(&"looks_like"));
    }

    #[test]
    fn full_width_letters_are_flagged_with_their_normal_form() {
        let issues = check_username("\u{FF42}\u{FF4F}\u{FF42}", ["bob"]);
        assert!(issues.contains(&NameIssue::NotNormalized {
            normalized: "bob".into()
        }));
        assert!(issues.contains(&NameIssue::LooksLike {
            contact: "bob".into()
        }));
    }

    #[test]
    #[cfg(feature = "unicode-names")]
    fn ascii_look_alikes_of_a_contact_are_flagged_but_not_the_contact_itself() {
        // `I` for `l` and a change of case: plain ASCII, yet confusable.
        let issues = check_username("BOB", ["bob"]);
        assert_eq!(kinds(&issues), ["looks_like"]);
        assert_eq!(kinds(&check_username("paypaI", ["paypal"])), ["looks_like"]);
        assert!(check_username("bob", ["bob"]).is_empty());
    }

    #[test]
    fn a_single_other_script_is_not_mixed() {
        let issues = check_username("\u{0431}\u{043E}\u{0431}", ["bob"]);
        assert_eq!(kinds(&issues), ["not_ascii"]);
    }

    #[test]
    #[cfg(feature = "unicode-names")]
    fn the_description_names_every_reason() {
        let issues = check_username("b\u{043E}b", ["bob"]);
        let text = describe("b\u{043E}b", &issues).unwrap();
        assert!(text.contains("several scripts"), "{text}");
        assert!(text.contains("your contact \"bob\""), "{text}");
        assert!(describe("bob", &[]).is_none());
        let hidden = describe("bob\u{200B}", &check_username("bob\u{200B}", ["bob"])).unwrap();
        assert!(hidden.contains("\\u{200b}"), "{hidden}");
    }
}
