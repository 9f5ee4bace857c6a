//! Members and the rules for registering them. No I/O, no HTTP.

mod member;
mod validation;

pub use member::{Member, MemberEmail, MemberName, NewMember};
pub use validation::ValidationError;
