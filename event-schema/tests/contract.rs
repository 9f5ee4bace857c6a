//! The contract's promises: events round-trip, old payloads keep decoding, bad input is an error,
//! and the committed JSON Schema is the one the types produce.

use event_schema::{DecodeError, MemberDeleted, MemberEvent, MemberEventData, MemberRegistered};
use uuid::Uuid;

const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schema/member-event.schema.json"
);

fn every_event_type() -> Vec<MemberEvent> {
    let member_id = Uuid::now_v7();
    vec![
        MemberEvent::new(
            "/member-service",
            MemberEventData::Registered(MemberRegistered {
                member_id,
                member_version: 1,
            }),
        ),
        MemberEvent::new(
            "/member-service",
            MemberEventData::Deleted(MemberDeleted {
                member_id,
                member_version: 2,
            }),
        ),
    ]
}

#[test]
fn every_event_type_round_trips_through_json() {
    for event in every_event_type() {
        let decoded = MemberEvent::decode(event.to_json().as_bytes()).expect("decodes");
        assert_eq!(decoded, event);
    }
}

#[test]
fn envelope_uses_cloudevents_attribute_names() {
    let event = &every_event_type()[1];
    let json: serde_json::Value = serde_json::from_str(&event.to_json()).expect("json");
    for attribute in [
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "data",
    ] {
        assert!(
            json.get(attribute).is_some(),
            "missing attribute {attribute}"
        );
    }
    assert_eq!(json["type"], "members.member_deleted.v1");
    assert_eq!(json["subject"], event.member_id().to_string());
    assert_eq!(event.id.get_version_num(), 7, "event ids are UUIDv7");
}

#[test]
fn events_carry_no_personal_data() {
    for event in every_event_type() {
        let json = event.to_json();
        for field in ["name", "email"] {
            assert!(!json.contains(&format!("\"{field}\"")), "{field} in {json}");
        }
    }
}

#[test]
fn committed_samples_of_every_event_type_still_decode() {
    let registered = MemberEvent::decode(include_bytes!("../samples/member_registered.v1.json"))
        .expect("registered sample decodes");
    assert!(
        matches!(registered.payload, MemberEventData::Registered(ref e) if e.member_version == 1)
    );
    let deleted = MemberEvent::decode(include_bytes!("../samples/member_deleted.v1.json"))
        .expect("deleted sample decodes");
    assert!(matches!(deleted.payload, MemberEventData::Deleted(ref e) if e.member_version == 2));
    // A sample exists for every variant: adding a variant without a sample fails here.
    let covered = [registered.payload.type_name(), deleted.payload.type_name()];
    for event in every_event_type() {
        assert!(covered.contains(&event.payload.type_name()));
    }
}

#[test]
fn garbage_truncated_and_wrong_type_payloads_are_errors() {
    let valid = every_event_type()[1].to_json();
    let mut inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x13],
        b"[]".to_vec(),
        b"null".to_vec(),
        valid
            .replace("members.member_deleted.v1", "members.member_exploded.v1")
            .into_bytes(),
        valid
            .replace("\"member_version\":2", "\"member_version\":\"two\"")
            .into_bytes(),
        valid
            .replace("\"member_version\":2", "\"member_version\":-2")
            .into_bytes(),
    ];
    for cut in 0..valid.len() {
        inputs.push(valid.as_bytes()[..cut].to_vec());
    }
    for input in inputs {
        assert!(
            MemberEvent::decode(&input).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn inconsistent_envelopes_are_rejected_with_the_reason() {
    let mut event = every_event_type().remove(1);
    event.subject = Uuid::now_v7().to_string();
    let error = MemberEvent::decode(event.to_json().as_bytes()).expect_err("subject mismatch");
    assert!(matches!(error, DecodeError::SubjectMismatch { .. }));

    let mut event = every_event_type().remove(0);
    event.specversion = "0.3".to_owned();
    let error = MemberEvent::decode(event.to_json().as_bytes()).expect_err("old spec");
    assert!(matches!(error, DecodeError::UnsupportedSpecVersion(_)));
}

/// Regenerate with `UPDATE_SCHEMA=1 cargo test -p event-schema`.
#[test]
fn committed_json_schema_matches_the_types() {
    let generated = serde_json::to_string_pretty(&schemars::schema_for!(MemberEvent))
        .expect("schema serializes")
        + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "{SCHEMA_PATH} is out of date with the event types; run UPDATE_SCHEMA=1 cargo test -p event-schema and commit it"
    );
}
