//! Fuzzing the consumer's decoding and decisions (issue 12): every message a producer can put on
//! the topic, arbitrary bytes, arbitrary keys and valid events mutated byte by byte and field by
//! field, is either decoded into an event or parked with a readable reason, and never panics.
//! `cargo fuzz` needs a nightly toolchain; proptest runs on stable, in the ordinary test command.
//!
//! `PROPTEST_CASES` sets the cases per property (256 by default); CI runs more, and
//! `PROPTEST_CASES=1000000 cargo test -p reservation-service --release --test decoding_fuzz`
//! is the long run.

use chrono::Utc;
use event_schema::{MemberDeleted, MemberEvent, MemberEventData, MemberRegistered};
use proptest::prelude::*;
use reservation_service::domain::{
    Arrival, Decision, Delivery, Knowledge, MAX_REASON_CHARS, MemberChange, decide_batch,
    member_ids,
};
use uuid::Uuid;

mod mutations;

use mutations::{Mutation, mutation};

/// A valid event as member-service publishes it.
fn valid_event() -> impl Strategy<Value = MemberEvent> {
    (any::<u128>(), 1..=u64::MAX, any::<bool>()).prop_map(|(member_id, version, registered)| {
        let member_id = Uuid::from_u128(member_id);
        let payload = if registered {
            MemberEventData::Registered(MemberRegistered {
                member_id,
                member_version: version,
            })
        } else {
            MemberEventData::Deleted(MemberDeleted {
                member_id,
                member_version: version,
            })
        };
        MemberEvent::new("/member-service", payload)
    })
}

/// A key as a producer may set it: the member's id, another id, none, or any bytes.
fn key_for(member_id: Uuid) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        4 => Just(Some(member_id.to_string().into_bytes())),
        1 => Just(Some(member_id.to_string().to_uppercase().into_bytes())),
        1 => any::<u128>().prop_map(|other| Some(Uuid::from_u128(other).to_string().into_bytes())),
        1 => Just(None),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Some),
    ]
}

/// A message: a valid event under some key, mutated or not, or arbitrary bytes.
fn message() -> impl Strategy<Value = (Option<Vec<u8>>, Option<Vec<u8>>)> {
    let mutated = (valid_event(), proptest::collection::vec(mutation(), 0..4)).prop_flat_map(
        |(event, mutations)| {
            let mut payload = event.to_json().into_bytes();
            for mutation in &mutations {
                payload = mutation.apply(payload);
            }
            (key_for(event.member_id()), Just(Some(payload)))
        },
    );
    let arbitrary = (
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..512)),
    );
    prop_oneof![6 => mutated, 1 => arbitrary]
}

fn delivery(offset: i64, (key, payload): (Option<Vec<u8>>, Option<Vec<u8>>)) -> Delivery {
    Delivery {
        topic: "member-events".to_owned(),
        partition: 0,
        offset,
        key,
        payload,
    }
}

/// What a parked reason must be: something an operator can read and every store can hold.
fn assert_readable(reason: &str) -> Result<(), TestCaseError> {
    prop_assert!(!reason.trim().is_empty(), "empty reason");
    prop_assert!(
        reason.chars().count() <= MAX_REASON_CHARS,
        "reason too long: {reason}"
    );
    prop_assert!(
        !reason.chars().any(char::is_control),
        "control character in {reason:?}"
    );
    Ok(())
}

/// Decoded or parked with a reason, never both, never neither; a member stream, when named, is
/// a member id.
fn assert_decoded_or_parked(arrival: &Arrival, decision: &Decision) -> Result<(), TestCaseError> {
    match (&arrival.event, decision) {
        (Ok(event), Decision::Apply(_)) => {
            if let Some(key) = arrival.delivery.key_text() {
                prop_assert_eq!(key, event.member_id().to_string());
            }
        }
        (Ok(_), Decision::ParkBehind { failure, .. }) => assert_readable(&failure.reason)?,
        (Err(_), Decision::Park(failure)) => assert_readable(&failure.reason)?,
        (event, decision) => {
            prop_assert!(false, "{event:?} was decided {decision:?}");
        }
    }
    if let Some(member_id) = arrival.member_id() {
        prop_assert!(Uuid::try_parse(&member_id).is_ok(), "stream {member_id:?}");
    }
    Ok(())
}

proptest! {
    #[test]
    fn every_message_is_decoded_or_parked_with_a_reason(message in message()) {
        let arrival = Arrival::new(delivery(0, message));
        let decisions = decide_batch(&Knowledge::default(), std::slice::from_ref(&arrival), None, Utc::now());
        prop_assert_eq!(decisions.len(), 1);
        assert_decoded_or_parked(&arrival, &decisions[0])?;
    }

    #[test]
    fn an_unmutated_event_under_its_member_key_is_decoded(event in valid_event()) {
        let key = Some(event.member_id().to_string().into_bytes());
        let arrival = Arrival::new(delivery(0, (key, Some(event.to_json().into_bytes()))));
        prop_assert_eq!(arrival.event.as_ref().ok(), Some(&event));
    }

    #[test]
    fn a_sequence_keeps_each_members_order_and_applies_each_event_once(
        messages in proptest::collection::vec(message(), 1..40),
        redelivered in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let mut deliveries: Vec<Delivery> = messages
            .into_iter()
            .zip(0..)
            .map(|(message, offset)| delivery(offset, message))
            .collect();
        // Redeliveries of earlier messages, at later offsets: the same event ids again.
        for index in redelivered {
            let mut again = index.get(&deliveries).clone();
            again.offset = i64::try_from(deliveries.len()).unwrap_or(i64::MAX);
            deliveries.push(again);
        }
        let arrivals: Vec<Arrival> = deliveries.into_iter().map(Arrival::new).collect();
        let decisions = decide_batch(&Knowledge::default(), &arrivals, None, Utc::now());
        prop_assert_eq!(decisions.len(), arrivals.len());
        let mut applied = std::collections::HashSet::new();
        let mut parked_members = std::collections::HashSet::new();
        for (arrival, decision) in arrivals.iter().zip(&decisions) {
            assert_decoded_or_parked(arrival, decision)?;
            let member_id = arrival.member_id();
            match decision {
                // Stale and duplicate events have no effect: only changes count as applied.
                Decision::Apply(MemberChange::Stale | MemberChange::Duplicate) => {}
                Decision::Apply(_) => {
                    let event = arrival.event.as_ref().map_err(|_| TestCaseError::fail("applied undecoded"))?;
                    prop_assert!(applied.insert(event.id), "{} applied twice", event.id);
                    prop_assert!(
                        member_id.as_ref().is_none_or(|member| !parked_members.contains(member)),
                        "applied behind a parked event of the same member"
                    );
                }
                Decision::Park(_) | Decision::ParkBehind { .. } | Decision::ParkedBefore(_) => {
                    parked_members.extend(member_id);
                }
            }
        }
        // The stream locks: each member once, in order.
        let locks = member_ids(&arrivals);
        prop_assert!(locks.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn giving_up_parks_every_decoded_event_with_the_failure(message in message()) {
        let arrival = Arrival::new(delivery(0, message));
        let failure = reservation_service::domain::Failure::again(None, &"refused\0by the database", Utc::now());
        let decisions = decide_batch(&Knowledge::default(), std::slice::from_ref(&arrival), Some(&failure), Utc::now());
        let Some(parked) = decisions[0].parking() else {
            return Err(TestCaseError::fail(format!("not parked: {:?}", decisions[0])));
        };
        assert_readable(&parked.reason)?;
    }
}

#[test]
fn the_mutations_change_what_they_say() {
    let json = br#"{"a":1}"#.to_vec();
    assert_eq!(Mutation::Truncate(3).apply(json.clone()), br#"{"a"#);
    assert_ne!(Mutation::DeepNesting(1000).apply(json.clone()), json);
}
