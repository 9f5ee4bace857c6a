//! What today's consumer decides for events from a newer contract (event-schema/EVOLUTION.md):
//! an unknown optional field applies, a newer version or an unknown type is parked and holds
//! back its member's later events.

use chrono::TimeZone;
use event_schema::{MemberDeleted, MemberEvent, MemberEventData, MemberRegistered};
use serde_json::{Value, json};

use super::*;
use crate::domain::Delivery;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0)
        .single()
        .expect("a valid time")
}

fn deleted(member_id: Uuid, member_version: u64) -> MemberEvent {
    MemberEvent::new(
        "/member-service",
        MemberEventData::Deleted(MemberDeleted {
            member_id,
            member_version,
        }),
    )
}

fn registered(member_id: Uuid, member_version: u64) -> MemberEvent {
    MemberEvent::new(
        "/member-service",
        MemberEventData::Registered(MemberRegistered {
            member_id,
            member_version,
        }),
    )
}

/// `event` as a future producer might write it: its JSON changed by `change`, at `offset`,
/// keyed by its member as the contract says.
fn future(offset: i64, event: &MemberEvent, change: impl FnOnce(&mut Value)) -> Arrival {
    let mut json: Value = serde_json::from_str(&event.to_json()).expect("an event is JSON");
    change(&mut json);
    Arrival::new(Delivery {
        topic: "member-events".to_owned(),
        partition: 0,
        offset,
        key: Some(event.member_id().to_string().into_bytes()),
        payload: Some(serde_json::to_vec(&json).expect("serializes")),
    })
}

fn today(offset: i64, event: &MemberEvent) -> Arrival {
    future(offset, event, |_| {})
}

/// An active member at version 1.
fn knowing(member_id: Uuid) -> Knowledge {
    Knowledge {
        members: [(
            member_id.to_string(),
            KnownMember {
                status: MemberStatus::Active,
                version: 1,
            },
        )]
        .into(),
        ..Knowledge::default()
    }
}

#[test]
fn an_event_with_an_unknown_optional_field_is_applied() {
    let member_id = Uuid::now_v7();
    let arrival = future(0, &deleted(member_id, 2), |event| {
        event["data"]["reason"] = json!("requested by the member");
        event["traceparent"] = json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    });
    let decisions = decide_batch(&knowing(member_id), &[arrival], None, now());
    assert_eq!(
        decisions,
        vec![Decision::Apply(MemberChange::Delete { version: 2 })]
    );
}

#[test]
fn a_newer_version_of_a_known_type_is_parked_and_holds_back_its_member() {
    let member_id = Uuid::now_v7();
    let arrivals = [
        future(0, &deleted(member_id, 2), |event| {
            event["type"] = json!("members.member_deleted.v2");
        }),
        today(1, &registered(member_id, 3)),
    ];
    let decisions = decide_batch(&knowing(member_id), &arrivals, None, now());
    let Decision::Park(failure) = &decisions[0] else {
        panic!("a v2 event was not parked: {decisions:?}");
    };
    assert!(
        failure.reason.contains("members.member_deleted.v2"),
        "the reason names the type: {}",
        failure.reason
    );
    assert!(
        matches!(decisions[1], Decision::ParkBehind { blocker, .. } if blocker == arrivals[0].parking_id),
        "the member's later event overtook the parked one: {decisions:?}"
    );
}

#[test]
fn an_unknown_event_type_is_parked_while_other_members_flow() {
    let member_id = Uuid::now_v7();
    let other_member_id = Uuid::now_v7();
    let arrivals = [
        future(0, &deleted(member_id, 2), |event| {
            event["type"] = json!("members.member_suspended.v1");
        }),
        today(1, &deleted(other_member_id, 2)),
    ];
    let mut knowledge = knowing(member_id);
    knowledge.members.extend(knowing(other_member_id).members);
    let decisions = decide_batch(&knowledge, &arrivals, None, now());
    assert!(
        matches!(decisions[0], Decision::Park(_)),
        "not parked: {decisions:?}"
    );
    assert_eq!(
        decisions[1],
        Decision::Apply(MemberChange::Delete { version: 2 })
    );
}
