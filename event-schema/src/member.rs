//! Member event payloads. Identifiers and versions only: no name, no email.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member joined. The first event of every member, at version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberRegistered {
    pub member_id: Uuid,
    /// Grows by one with every change of this member; consumers ignore versions they have passed.
    pub member_version: u64,
}

/// A member was deleted. Consumers must forget the member and cancel what depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberDeleted {
    pub member_id: Uuid,
    pub member_version: u64,
}

/// The payload of a member event, tagged by the CloudEvents `type` attribute.
///
/// The version is part of the type name: a breaking change adds a new variant with a new name,
/// and the old one stays decodable for as long as old events are retained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum MemberEventData {
    #[serde(rename = "members.member_registered.v1")]
    Registered(MemberRegistered),
    #[serde(rename = "members.member_deleted.v1")]
    Deleted(MemberDeleted),
}

impl MemberEventData {
    pub fn member_id(&self) -> Uuid {
        match self {
            Self::Registered(event) => event.member_id,
            Self::Deleted(event) => event.member_id,
        }
    }

    pub fn member_version(&self) -> u64 {
        match self {
            Self::Registered(event) => event.member_version,
            Self::Deleted(event) => event.member_version,
        }
    }

    /// The CloudEvents `type` attribute of this payload.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Registered(_) => "members.member_registered.v1",
            Self::Deleted(_) => "members.member_deleted.v1",
        }
    }
}
