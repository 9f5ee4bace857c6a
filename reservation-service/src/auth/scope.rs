//! Scopes and the rules a verified caller is held to: pure functions over the token's claims.

use uuid::Uuid;

/// What a token may do, named in its `scope` claim (space-separated, RFC 9068).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read members (a member token: only its own member).
    MembersRead,
    /// Register and delete members (a member token: delete only itself).
    MembersWrite,
    /// Read reservations and known members (a member token: only its own).
    ReservationsRead,
    /// Make and cancel reservations (a member token: only its own).
    ReservationsWrite,
    /// Operations views: the consumer's state and lag.
    Operator,
    /// Acts for any member: without it, a token acts only for the member named by its subject.
    Staff,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::MembersRead,
        Scope::MembersWrite,
        Scope::ReservationsRead,
        Scope::ReservationsWrite,
        Scope::Operator,
        Scope::Staff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::MembersRead => "members:read",
            Scope::MembersWrite => "members:write",
            Scope::ReservationsRead => "reservations:read",
            Scope::ReservationsWrite => "reservations:write",
            Scope::Operator => "operator",
            Scope::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

/// Why a verified caller may not do what it asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this request needs the scope {}, which the token does not grant", .0.as_str())]
    MissingScope(Scope),
    #[error("this token acts for member {acting_for} only, not for member {requested}")]
    OtherMember { acting_for: String, requested: Uuid },
    #[error("this request acts for every member and needs the scope staff")]
    StaffOnly,
}

/// A caller whose token was verified: its subject and the scopes it was granted. Scopes this
/// service does not know are ignored: another service's scopes may share a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    scopes: Vec<Scope>,
}

impl Caller {
    /// From the claims: `scope` is space-separated.
    pub fn new(subject: impl Into<String>, scope_claim: &str) -> Self {
        Self {
            subject: subject.into(),
            scopes: scope_claim.split(' ').filter_map(Scope::parse).collect(),
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn is_staff(&self) -> bool {
        self.has(Scope::Staff)
    }

    pub fn require(&self, scope: Scope) -> Result<(), Refusal> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Refusal::MissingScope(scope))
        }
    }

    /// The member a non-staff token acts for: its subject, when that is a member id.
    pub fn own_member(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.subject).ok()
    }

    /// `scope`, and either staff or a token whose subject is `member_id`.
    pub fn require_for_member(&self, scope: Scope, member_id: Uuid) -> Result<(), Refusal> {
        self.require(scope)?;
        if self.is_staff() || self.own_member() == Some(member_id) {
            Ok(())
        } else {
            Err(Refusal::OtherMember {
                acting_for: self.subject.clone(),
                requested: member_id,
            })
        }
    }

    /// `scope` and staff: the request concerns every member.
    pub fn require_staff(&self, scope: Scope) -> Result<(), Refusal> {
        self.require(scope)?;
        if self.is_staff() {
            Ok(())
        } else {
            Err(Refusal::StaffOnly)
        }
    }

    /// Who a list is restricted to: `None` for staff (anyone, as asked), otherwise the token's
    /// own member, which a member filter in the request must name if it names one.
    pub fn member_filter(
        &self,
        scope: Scope,
        requested: Option<Uuid>,
    ) -> Result<Option<Uuid>, Refusal> {
        self.require(scope)?;
        if self.is_staff() {
            return Ok(requested);
        }
        let own = self.own_member().ok_or(Refusal::StaffOnly)?;
        match requested {
            Some(requested) if requested != own => Err(Refusal::OtherMember {
                acting_for: self.subject.clone(),
                requested,
            }),
            _ => Ok(Some(own)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: Uuid = Uuid::from_u128(7);
    const OTHER: Uuid = Uuid::from_u128(8);

    fn member(scopes: &str) -> Caller {
        Caller::new(MEMBER.to_string(), scopes)
    }

    #[test]
    fn scopes_are_read_from_a_space_separated_claim_and_unknown_ones_ignored() {
        let caller = Caller::new("staff-1", "reservations:read  billing:write staff");
        assert!(caller.has(Scope::ReservationsRead));
        assert!(caller.is_staff());
        assert!(!caller.has(Scope::ReservationsWrite));
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }

    #[test]
    fn a_missing_scope_is_named() {
        let refusal = member("reservations:read").require(Scope::ReservationsWrite);
        assert_eq!(
            refusal,
            Err(Refusal::MissingScope(Scope::ReservationsWrite))
        );
        assert_eq!(
            Refusal::MissingScope(Scope::ReservationsWrite).to_string(),
            "this request needs the scope reservations:write, which the token does not grant"
        );
    }

    #[test]
    fn a_member_token_acts_for_its_own_member_only() {
        let caller = member("reservations:write");
        assert_eq!(
            caller.require_for_member(Scope::ReservationsWrite, MEMBER),
            Ok(())
        );
        assert!(matches!(
            caller.require_for_member(Scope::ReservationsWrite, OTHER),
            Err(Refusal::OtherMember { .. })
        ));
        assert_eq!(
            caller.require_staff(Scope::ReservationsWrite),
            Err(Refusal::StaffOnly)
        );
    }

    #[test]
    fn staff_acts_for_anyone_but_still_needs_the_routes_scope() {
        let staff = Caller::new("desk-1", "staff reservations:read");
        assert_eq!(
            staff.require_for_member(Scope::ReservationsRead, OTHER),
            Ok(())
        );
        assert_eq!(
            staff.require_for_member(Scope::ReservationsWrite, OTHER),
            Err(Refusal::MissingScope(Scope::ReservationsWrite))
        );
    }

    #[test]
    fn a_member_list_is_narrowed_to_the_tokens_member() {
        let caller = member("reservations:read");
        assert_eq!(
            caller.member_filter(Scope::ReservationsRead, None),
            Ok(Some(MEMBER))
        );
        assert_eq!(
            caller.member_filter(Scope::ReservationsRead, Some(MEMBER)),
            Ok(Some(MEMBER))
        );
        assert!(
            caller
                .member_filter(Scope::ReservationsRead, Some(OTHER))
                .is_err()
        );
        let not_a_member = Caller::new("robot", "reservations:read");
        assert_eq!(
            not_a_member.member_filter(Scope::ReservationsRead, None),
            Err(Refusal::StaffOnly)
        );
        let staff = Caller::new("desk-1", "staff reservations:read");
        assert_eq!(staff.member_filter(Scope::ReservationsRead, None), Ok(None));
    }
}
