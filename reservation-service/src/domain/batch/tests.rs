use chrono::TimeZone;
use event_schema::{MemberDeleted, MemberEvent, MemberEventData, MemberRegistered};

use super::*;
use crate::domain::Delivery;

const TOPIC: &str = "member-events";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .expect("a valid time")
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

fn deleted(member_id: Uuid, member_version: u64) -> MemberEvent {
    MemberEvent::new(
        "/member-service",
        MemberEventData::Deleted(MemberDeleted {
            member_id,
            member_version,
        }),
    )
}

/// `event` at `offset`, keyed by its member as the contract says.
fn arrival(offset: i64, event: &MemberEvent) -> Arrival {
    Arrival::new(Delivery {
        topic: TOPIC.to_owned(),
        partition: 0,
        offset,
        key: Some(event.member_id().to_string().into_bytes()),
        payload: Some(event.to_json().into_bytes()),
    })
}

/// Bytes that are no member event, at `offset`, under `key`.
fn garbage(offset: i64, key: Option<Uuid>) -> Arrival {
    Arrival::new(Delivery {
        topic: TOPIC.to_owned(),
        partition: 0,
        offset,
        key: key.map(|key| key.to_string().into_bytes()),
        payload: Some(b"{\"truncated".to_vec()),
    })
}

/// What the database holds of an event of `member_id` parked from `offset`.
fn parked(member_id: Uuid, offset: i64, status: ParkedStatus) -> ParkedEvent {
    let parked_at = now() - chrono::Duration::hours(1);
    ParkedEvent {
        id: Uuid::now_v7(),
        member_id: Some(member_id.to_string()),
        event_id: None,
        source_topic: TOPIC.to_owned(),
        source_partition: 0,
        source_offset: offset,
        message_key: None,
        payload: None,
        reason: "payload is not a member event".to_owned(),
        attempts: 1,
        first_failed_at: parked_at,
        parked_at,
        status,
        resolved_at: None,
        resolution: None,
    }
}

fn member(status: MemberStatus, version: i64) -> KnownMember {
    KnownMember { status, version }
}

fn knowing_members(members: &[(Uuid, KnownMember)]) -> Knowledge {
    Knowledge {
        members: members
            .iter()
            .map(|(member_id, known)| (member_id.to_string(), *known))
            .collect(),
        ..Knowledge::default()
    }
}

fn knowing_parked(parked: Vec<ParkedEvent>) -> Knowledge {
    Knowledge {
        parked,
        ..Knowledge::default()
    }
}

fn decide(knowledge: &Knowledge, arrivals: &[Arrival]) -> Vec<Decision> {
    decide_batch(knowledge, arrivals, None, now())
}

fn activate(version: i64) -> Decision {
    Decision::Apply(MemberChange::Activate { version })
}

fn delete(version: i64) -> Decision {
    Decision::Apply(MemberChange::Delete { version })
}

const STALE: Decision = Decision::Apply(MemberChange::Stale);
const DUPLICATE: Decision = Decision::Apply(MemberChange::Duplicate);

#[test]
fn an_empty_batch_decides_nothing() {
    assert_eq!(decide(&Knowledge::default(), &[]), vec![]);
}

#[test]
fn an_unknown_members_registration_applies() {
    let member_id = Uuid::now_v7();
    let decisions = decide(
        &Knowledge::default(),
        &[arrival(0, &registered(member_id, 1))],
    );
    assert_eq!(decisions, vec![activate(1)]);
}

#[test]
fn a_members_events_in_one_batch_apply_in_order() {
    let member_id = Uuid::now_v7();
    let arrivals = [
        arrival(0, &registered(member_id, 1)),
        arrival(1, &deleted(member_id, 2)),
    ];
    assert_eq!(
        decide(&Knowledge::default(), &arrivals),
        vec![activate(1), delete(2)]
    );
}

#[test]
fn a_members_later_event_in_the_batch_sees_the_earlier_one() {
    let member_id = Uuid::now_v7();
    let arrivals = [
        arrival(0, &deleted(member_id, 2)),
        // Overtaken by the deletion: older, and a deleted member stays deleted.
        arrival(1, &registered(member_id, 1)),
        arrival(2, &registered(member_id, 3)),
    ];
    assert_eq!(
        decide(&Knowledge::default(), &arrivals),
        vec![delete(2), STALE, STALE]
    );
}

#[test]
fn the_known_version_is_a_duplicate_and_older_ones_are_stale() {
    let member_id = Uuid::now_v7();
    let knowledge = knowing_members(&[(member_id, member(MemberStatus::Active, 3))]);
    let arrivals = [
        arrival(0, &registered(member_id, 3)),
        arrival(1, &deleted(member_id, 2)),
        arrival(2, &deleted(member_id, 4)),
    ];
    assert_eq!(
        decide(&knowledge, &arrivals),
        vec![DUPLICATE, STALE, delete(4)]
    );
}

#[test]
fn an_event_delivered_twice_in_one_batch_applies_once() {
    let deletion = deleted(Uuid::now_v7(), 2);
    let arrivals = [arrival(0, &deletion), arrival(1, &deletion)];
    assert_eq!(
        decide(&Knowledge::default(), &arrivals),
        vec![delete(2), DUPLICATE]
    );
}

#[test]
fn a_publish_retried_under_a_new_offset_is_a_duplicate_of_the_event_applied() {
    // The embedded broker's producer is not idempotent: a retried send can land twice, in order,
    // each copy at its own offset, in the same batch or the next.
    let member_id = Uuid::now_v7();
    let registration = registered(member_id, 1);
    let arrivals = [
        arrival(0, &registration),
        arrival(1, &registration),
        arrival(2, &deleted(member_id, 2)),
    ];
    assert_eq!(
        decide(&Knowledge::default(), &arrivals),
        vec![activate(1), DUPLICATE, delete(2)]
    );
    let applied = knowing_members(&[(member_id, member(MemberStatus::Deleted, 2))]);
    assert_eq!(
        decide(&applied, &[arrival(3, &deleted(member_id, 2))]),
        vec![DUPLICATE]
    );
}

#[test]
fn a_batch_redelivered_after_its_commit_has_no_effect() {
    // Committed to the database, killed before the offsets were: the whole batch comes again.
    let member_id = Uuid::now_v7();
    let batch = [registered(member_id, 1), deleted(member_id, 2)];
    let arrivals: Vec<Arrival> = (0..)
        .zip(&batch)
        .map(|(offset, event)| arrival(offset, event))
        .collect();
    assert_eq!(
        decide(&Knowledge::default(), &arrivals),
        vec![activate(1), delete(2)]
    );
    let committed = knowing_members(&[(member_id, member(MemberStatus::Deleted, 2))]);
    // The last event the member list applied is a duplicate; the one it overtook, stale.
    assert_eq!(decide(&committed, &arrivals), vec![STALE, DUPLICATE]);
}

#[test]
fn a_deletion_before_its_registration_deletes_and_the_registration_is_stale() {
    let member_id = Uuid::now_v7();
    let arrivals = [
        arrival(0, &deleted(member_id, 2)),
        arrival(1, &registered(member_id, 1)),
        arrival(2, &deleted(member_id, 2)),
    ];
    assert_eq!(
        decide(&Knowledge::default(), &arrivals),
        vec![delete(2), STALE, DUPLICATE]
    );
}

#[test]
fn a_stale_event_delivered_again_is_stale_again() {
    let member_id = Uuid::now_v7();
    let knowledge = knowing_members(&[(member_id, member(MemberStatus::Deleted, 2))]);
    let registration = registered(member_id, 1);
    let arrivals = [arrival(0, &registration), arrival(1, &registration)];
    assert_eq!(decide(&knowledge, &arrivals), vec![STALE, STALE]);
}

#[test]
fn an_event_reissued_under_a_new_id_is_told_by_its_version() {
    let member_id = Uuid::now_v7();
    let knowledge = knowing_members(&[(member_id, member(MemberStatus::Active, 1))]);
    let mut reissued = registered(member_id, 1);
    reissued.id = Uuid::now_v7();
    let arrivals = [arrival(0, &reissued), arrival(1, &deleted(member_id, 2))];
    assert_eq!(decide(&knowledge, &arrivals), vec![DUPLICATE, delete(2)]);
}

#[test]
fn a_members_events_wait_behind_its_parked_event_and_other_members_carry_on() {
    let (held, free) = (Uuid::now_v7(), Uuid::now_v7());
    let blocker = parked(held, 3, ParkedStatus::Parked);
    let knowledge = knowing_parked(vec![blocker.clone()]);
    let arrivals = [
        arrival(10, &deleted(held, 2)),
        arrival(11, &registered(free, 1)),
    ];
    let decisions = decide(&knowledge, &arrivals);
    assert_eq!(
        decisions[0],
        Decision::ParkBehind {
            blocker: blocker.id,
            failure: Failure {
                reason: format!(
                    "parked behind event {}, parked earlier for member {held}",
                    blocker.id
                ),
                attempts: 0,
                first_failed_at: now(),
            },
        }
    );
    assert_eq!(decisions[1], activate(1));
}

#[test]
fn a_member_waits_behind_its_earliest_parked_event() {
    let member_id = Uuid::now_v7();
    let later = parked(member_id, 5, ParkedStatus::Parked);
    let earliest = parked(member_id, 2, ParkedStatus::Parked);
    let knowledge = knowing_parked(vec![later, earliest.clone()]);
    let decisions = decide(&knowledge, &[arrival(9, &deleted(member_id, 2))]);
    assert!(
        matches!(decisions[0], Decision::ParkBehind { blocker, .. } if blocker == earliest.id),
        "{decisions:?}"
    );
}

#[test]
fn events_replayed_or_discarded_hold_nothing_back() {
    let member_id = Uuid::now_v7();
    let knowledge = knowing_parked(vec![
        parked(member_id, 1, ParkedStatus::Replayed),
        parked(member_id, 2, ParkedStatus::Discarded),
    ]);
    let decisions = decide(&knowledge, &[arrival(3, &deleted(member_id, 2))]);
    assert_eq!(decisions, vec![delete(2)]);
}

#[test]
fn a_duplicate_of_a_held_back_member_still_waits_behind() {
    let member_id = Uuid::now_v7();
    let deletion = deleted(member_id, 2);
    let knowledge = Knowledge {
        parked: vec![parked(member_id, 1, ParkedStatus::Parked)],
        ..knowing_members(&[(member_id, member(MemberStatus::Deleted, 2))])
    };
    let decisions = decide(&knowledge, &[arrival(4, &deletion)]);
    assert!(
        matches!(decisions[0], Decision::ParkBehind { .. }),
        "{decisions:?}"
    );
}

#[test]
fn a_replay_of_events_parked_behind_recognises_what_was_applied_before_and_applies_the_rest() {
    // Replayed by `dlq replay`, which decides the parked events with no parked event holding
    // them back: a copy of the version applied before the blocker is a duplicate, and the
    // member's next versions apply in their order.
    let member_id = Uuid::now_v7();
    let knowledge = knowing_members(&[(member_id, member(MemberStatus::Active, 1))]);
    let arrivals = [
        arrival(5, &registered(member_id, 1)),
        arrival(6, &deleted(member_id, 2)),
        arrival(7, &deleted(member_id, 2)),
    ];
    assert_eq!(
        decide(&knowledge, &arrivals),
        vec![DUPLICATE, delete(2), DUPLICATE]
    );
}

#[test]
fn an_undecodable_event_is_parked_and_its_members_later_events_wait_behind_it() {
    let (poisoned, healthy) = (Uuid::now_v7(), Uuid::now_v7());
    let poison = garbage(1, Some(poisoned));
    let poison_id = poison.parking_id;
    let reason = poison
        .event
        .as_ref()
        .expect_err("garbage does not decode")
        .to_string();
    let arrivals = [
        poison,
        arrival(2, &deleted(poisoned, 2)),
        arrival(3, &registered(healthy, 1)),
    ];
    let decisions = decide(&Knowledge::default(), &arrivals);
    assert_eq!(
        decisions[0],
        Decision::Park(Failure {
            reason,
            attempts: 1,
            first_failed_at: now(),
        })
    );
    assert!(
        matches!(decisions[1], Decision::ParkBehind { blocker, .. } if blocker == poison_id),
        "{decisions:?}"
    );
    assert_eq!(decisions[2], activate(1));
}

#[test]
fn an_undecodable_event_without_a_key_holds_nothing_back() {
    let member_id = Uuid::now_v7();
    let arrivals = [garbage(1, None), arrival(2, &registered(member_id, 1))];
    let decisions = decide(&Knowledge::default(), &arrivals);
    assert!(matches!(decisions[0], Decision::Park(_)), "{decisions:?}");
    assert_eq!(decisions[1], activate(1));
}

#[test]
fn a_position_parked_before_is_parked_again_whatever_became_of_it() {
    let member_id = Uuid::now_v7();
    let replayed = parked(member_id, 7, ParkedStatus::Replayed);
    let knowledge = knowing_parked(vec![replayed.clone()]);
    let arrivals = [
        arrival(7, &deleted(member_id, 2)),
        arrival(8, &registered(Uuid::now_v7(), 1)),
    ];
    assert_eq!(
        decide(&knowledge, &arrivals),
        vec![Decision::ParkedBefore(replayed.failure()), activate(1)]
    );
}

#[test]
fn a_parked_event_delivered_again_still_holds_its_member_back() {
    let member_id = Uuid::now_v7();
    let still_parked = parked(member_id, 7, ParkedStatus::Parked);
    let knowledge = knowing_parked(vec![still_parked.clone()]);
    let arrivals = [
        garbage(7, Some(member_id)),
        arrival(8, &deleted(member_id, 2)),
    ];
    let decisions = decide(&knowledge, &arrivals);
    assert_eq!(decisions[0], Decision::ParkedBefore(still_parked.failure()));
    assert!(
        matches!(decisions[1], Decision::ParkBehind { blocker, .. } if blocker == still_parked.id),
        "{decisions:?}"
    );
}

#[test]
fn an_event_that_failed_too_often_is_parked_with_its_failure() {
    let member_id = Uuid::now_v7();
    let failure = Failure {
        reason: "handler failed 3 times; last error: refused".to_owned(),
        attempts: 3,
        first_failed_at: now() - chrono::Duration::seconds(5),
    };
    let decisions = decide_batch(
        &Knowledge::default(),
        &[arrival(1, &deleted(member_id, 2))],
        Some(&failure),
        now(),
    );
    assert_eq!(decisions, vec![Decision::Park(failure)]);
}

#[test]
fn giving_up_yields_to_an_earlier_parking_and_to_a_rejection() {
    let member_id = Uuid::now_v7();
    let failure = Failure {
        reason: "handler failed 3 times; last error: refused".to_owned(),
        attempts: 3,
        first_failed_at: now(),
    };
    let earlier = parked(member_id, 1, ParkedStatus::Parked);
    let knowledge = knowing_parked(vec![earlier.clone()]);
    let redelivered = decide_batch(
        &knowledge,
        &[arrival(1, &deleted(member_id, 2))],
        Some(&failure),
        now(),
    );
    assert_eq!(redelivered, vec![Decision::ParkedBefore(earlier.failure())]);

    let rejected = decide_batch(
        &Knowledge::default(),
        &[garbage(1, Some(member_id))],
        Some(&failure),
        now(),
    );
    assert!(
        matches!(&rejected[0], Decision::Park(parking) if parking.attempts == 1),
        "{rejected:?}"
    );
}

#[test]
fn parking_is_told_apart_from_applying() {
    let failure = Failure {
        reason: "payload is not a member event".to_owned(),
        attempts: 1,
        first_failed_at: now(),
    };
    assert_eq!(Decision::Park(failure.clone()).parking(), Some(&failure));
    assert_eq!(STALE.parking(), None);
    assert_eq!(DUPLICATE.parking(), None);
}
