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
