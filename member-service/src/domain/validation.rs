//! Input that breaks a rule. Both services have this file, kept identical by
//! `tests/tests/plumbing_copies.rs` (see `docs/decisions/0001-shared-plumbing.md`).

/// Input that breaks a rule, naming the field so a client can show it next to the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they make
/// text display in another order than it is stored ("Trojan Source").
fn is_bidirectional_control(character: char) -> bool {
    matches!(character, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing: zero-width spaces and joiners, marks, the word joiner, the
/// byte-order mark, soft hyphen and fillers. Allowed inside text (joiners shape some scripts),
/// but text of only these is empty.
fn is_invisible(character: char) -> bool {
    character.is_whitespace()
        || matches!(
            character,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// A text field as people type and read it: trimmed; not empty, also not when only invisible
/// characters remain; at most `max_characters`; no control characters (NUL, line breaks, tabs)
/// and no bidirectional controls.
pub fn parse_text(
    field: &'static str,
    raw: &str,
    max_characters: usize,
) -> Result<String, ValidationError> {
    let trimmed = raw.trim();
    if trimmed.chars().all(is_invisible) {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters (line breaks, tabs, NUL)",
        ));
    }
    if trimmed.chars().any(is_bidirectional_control) {
        return Err(ValidationError::new(
            field,
            "must not contain bidirectional controls (U+202A to U+202E, U+2066 to U+2069)",
        ));
    }
    if trimmed.chars().count() > max_characters {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_characters} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(raw: &str) -> Option<String> {
        parse_text("name", raw, 10).err().map(|error| error.message)
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(parse_text("name", "  Ada  ", 10), Ok("Ada".to_owned()));
        assert!(refusal(&"x".repeat(11)).is_some());
        assert_eq!(
            parse_text("name", "é".repeat(10).as_str(), 10).map(|text| text.chars().count()),
            Ok(10)
        );
    }

    #[test]
    fn control_characters_and_bidirectional_controls_are_refused() {
        for raw in [
            "room\u{0}x",
            "a\nb",
            "a\tb",
            "a\u{7f}b",
            "\u{202e}",
            "x\u{2066}y",
            "x\u{202a}y",
        ] {
            assert!(refusal(raw).is_some(), "{raw:?} accepted");
        }
        assert!(refusal("x\u{2068}y").is_some());
    }

    #[test]
    fn text_of_only_invisible_characters_is_empty() {
        for raw in [
            "",
            "   ",
            "\u{200b}\u{200b}",
            "\u{feff}",
            "\u{00ad}\u{2060}",
            "\u{3164}",
        ] {
            assert_eq!(
                refusal(raw).as_deref(),
                Some("must not be empty"),
                "{raw:?}"
            );
        }
        // A joiner inside a word is part of the word.
        assert_eq!(
            parse_text("name", "a\u{200d}b", 10),
            Ok("a\u{200d}b".to_owned())
        );
    }
}
