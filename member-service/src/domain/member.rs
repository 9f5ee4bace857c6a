use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ValidationError, validation::parse_text};

/// A registered, not deleted, member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// Grows by one with every change; published in every event.
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// A member's display name: trimmed, not empty (nor only invisible characters), at most 200
/// characters, no control characters or bidirectional controls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberName(String);

impl MemberName {
    pub const MAX_CHARACTERS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        parse_text("name", raw, Self::MAX_CHARACTERS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address (RFC 5321/5322 syntax), lower-cased so that uniqueness ignores case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEmail(String);

impl MemberEmail {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let address = trimmed
            .parse::<email_address::EmailAddress>()
            .map_err(|error| {
                ValidationError::new("email", format!("is not a valid email address: {error}"))
            })?;
        // Display names ("Ada <ada@example.com>") parse too; only a bare address is accepted.
        if address.email() != trimmed || !address.domain().contains('.') {
            return Err(ValidationError::new(
                "email",
                "is not a valid email address: expected local-part@domain.tld",
            ));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registration request that passed every rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMember {
    pub name: MemberName,
    pub email: MemberEmail,
}

impl NewMember {
    /// Checks every field, reporting all broken rules at once.
    pub fn parse(name: &str, email: &str) -> Result<Self, Vec<ValidationError>> {
        match (MemberName::parse(name), MemberEmail::parse(email)) {
            (Ok(name), Ok(email)) => Ok(Self { name, email }),
            (name, email) => Err([name.err(), email.err()].into_iter().flatten().collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_not_be_empty() {
        assert_eq!(
            MemberName::parse("  Ada  ").map(|name| name.0),
            Ok("Ada".to_owned())
        );
        for empty in ["", "   ", "\t\n"] {
            assert_eq!(
                MemberName::parse(empty).map_err(|error| error.field),
                Err("name")
            );
        }
        assert!(MemberName::parse(&"x".repeat(201)).is_err());
        assert!(MemberName::parse("Ada\u{0}").is_err());
        assert!(MemberName::parse("\u{200b}\u{200b}").is_err());
        assert!(MemberName::parse("Ada\u{202e}ecalevoL").is_err());
    }

    #[test]
    fn emails_must_be_bare_addresses_and_are_lower_cased() {
        assert_eq!(
            MemberEmail::parse(" Ada@Example.COM ").map(|email| email.0),
            Ok("ada@example.com".to_owned())
        );
        for malformed in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@@example.com",
            "Ada <ada@example.com>",
            "ada@localhost",
            "a da@example.com",
        ] {
            assert_eq!(
                MemberEmail::parse(malformed).map_err(|error| error.field),
                Err("email"),
                "{malformed:?} accepted"
            );
        }
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let errors = NewMember::parse("", "nope").expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|error| error.field).collect();
        assert_eq!(fields, ["name", "email"]);
    }
}
