//! Reasons in words, for the parked record, the dead-letter headers, the log and `dlq show`.
//! A reason quotes the decoder's or the database's error, and those may quote the payload: a
//! producer controls every byte of it. Whatever it sent, the reason stays storable (PostgreSQL
//! refuses NUL in text), printable (no control or bidirectional characters that rewrite a
//! terminal line) and short (a Kafka header, a log line).

/// The most characters of a reason kept; the rest is cut and marked.
pub const MAX_REASON_CHARS: usize = 500;

const CUT_MARK: &str = " […]";

/// `text` made safe to store, print and send: control and bidirectional-formatting characters
/// escaped as `\u{…}`, at most [`MAX_REASON_CHARS`] characters, never empty.
pub fn readable_reason(text: &str) -> String {
    let mut reason = String::with_capacity(text.len().min(MAX_REASON_CHARS * 4));
    let mut kept = 0usize;
    for character in text.chars() {
        let escaped: String = if needs_escape(character) {
            character.escape_unicode().collect()
        } else {
            character.to_string()
        };
        let length = escaped.chars().count();
        if kept + length > MAX_REASON_CHARS - CUT_MARK.chars().count() {
            reason.push_str(CUT_MARK);
            return reason;
        }
        kept += length;
        reason.push_str(&escaped);
    }
    if reason.trim().is_empty() {
        return "no reason given".to_owned();
    }
    reason
}

fn needs_escape(character: char) -> bool {
    character.is_control()
        // Bidirectional embeddings, overrides and isolates, and the invisible marks.
        || matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_reason_is_kept_as_it_is() {
        assert_eq!(
            readable_reason("message has no payload"),
            "message has no payload"
        );
    }

    #[test]
    fn control_and_bidirectional_characters_are_escaped() {
        assert_eq!(
            readable_reason("unknown variant `a\0b\n\u{202e}c`"),
            "unknown variant `a\\u{0}b\\u{a}\\u{202e}c`"
        );
    }

    #[test]
    fn a_long_reason_is_cut_and_marked() {
        let reason = readable_reason(&"x".repeat(10_000));
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS);
        assert!(reason.ends_with(CUT_MARK));
        let escapes = readable_reason(&"\0".repeat(10_000));
        assert!(escapes.chars().count() <= MAX_REASON_CHARS);
    }

    #[test]
    fn an_empty_reason_still_says_something() {
        assert_eq!(readable_reason(" "), "no reason given");
    }
}
