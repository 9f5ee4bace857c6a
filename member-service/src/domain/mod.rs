//! Members and the rules for registering them. No I/O, no HTTP.

mod member;

pub use member::{Member, MemberEmail, MemberName, NewMember, ValidationError};
