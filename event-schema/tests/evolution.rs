//! The event-evolution gate (EVOLUTION.md): the current JSON Schema against the released ones,
//! proven compatible by `jsoncompat`, and shown to refuse breaking changes. Then the policy's
//! cases for consumers, with synthetic future payloads, as this crate decodes them.

use std::{collections::BTreeMap, path::PathBuf};

use event_schema::{DecodeError, MemberEvent};
use jsoncompat::{CompatibilityResult, Role, SchemaDocument, analyze_compat};
use serde_json::{Value, json};

const CURRENT: &str = include_str!("../schema/member-event.schema.json");
const RELEASED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/released");
const DELETED_SAMPLE: &[u8] = include_bytes!("../samples/member_deleted.v1.json");

fn current() -> Value {
    serde_json::from_str(CURRENT).expect("the current schema is JSON")
}

/// The released contracts, oldest first: `released/v<N>/member-event.schema.json`.
fn releases() -> Vec<(u32, Value)> {
    let mut releases: Vec<(u32, PathBuf)> = std::fs::read_dir(RELEASED)
        .expect("schema/released exists")
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix('v')?.parse().ok()?;
            Some((version, entry.path().join("member-event.schema.json")))
        })
        .collect();
    releases.sort();
    releases
        .into_iter()
        .map(|(version, path)| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            (
                version,
                serde_json::from_str(&text).expect("a released schema is JSON"),
            )
        })
        .collect()
}

/// Why `candidate` may not follow `released` under `role`, or `None` when it may. A change the
/// checker cannot prove compatible is refused too.
fn refusal(released: &Value, candidate: &Value, role: Role) -> Option<String> {
    let document = |schema: &Value| SchemaDocument::from_json(schema).map_err(|e| e.to_string());
    let (released, candidate) = match (document(released), document(candidate)) {
        (Ok(released), Ok(candidate)) => (released, candidate),
        (Err(error), _) | (_, Err(error)) => return Some(format!("unreadable schema: {error}")),
    };
    match analyze_compat(&released, &candidate, role) {
        Ok(CompatibilityResult::Compatible) => None,
        Ok(CompatibilityResult::Incompatible {
            direction,
            counterexample,
        }) => Some(match direction {
            Role::Serializer => {
                format!("an older consumer cannot read this new event: {counterexample}")
            }
            _ => format!("the new schema refuses this released event: {counterexample}"),
        }),
        Ok(CompatibilityResult::Unknown { reason }) => {
            Some(format!("compatibility cannot be proven: {reason}"))
        }
        Err(error) => Some(format!("the checker cannot run: {error}")),
    }
}

/// The contract in parts, each checked on its own: the envelope, and each event type (by its
/// `type`) with the definitions it refers to. jsoncompat cannot prove an inclusion through the
/// schema's top-level `oneOf` (it answers "unknown", which the gate takes as a refusal), and
/// the policy's unit is the event type anyway.
fn parts(schema: &Value) -> BTreeMap<String, Value> {
    let mut envelope = schema.clone();
    let variants = envelope
        .as_object_mut()
        .and_then(|envelope| envelope.remove("oneOf"))
        .unwrap_or_default();
    let mut parts = BTreeMap::new();
    for variant in variants.as_array().into_iter().flatten() {
        let event_type = variant["properties"]["type"]["const"]
            .as_str()
            .unwrap_or("(a variant without a type)");
        let mut part = variant.clone();
        part["$defs"] = schema["$defs"].clone();
        parts.insert(format!("type {event_type}"), part);
    }
    parts.insert("the envelope".to_owned(), envelope);
    parts
}

/// The gate: each part of `candidate` against the latest release in both directions, and
/// against every earlier release for reading its retained events. Every reason it is refused.
fn gate(candidate: &Value, releases: &[(u32, Value)]) -> Vec<String> {
    let Some(((latest_version, _), _)) = releases.split_last() else {
        return vec!["no released contract under schema/released".to_owned()];
    };
    let candidate = parts(candidate);
    let mut refusals = Vec::new();
    for (version, released) in releases {
        let role = if version == latest_version {
            Role::Both
        } else {
            Role::Deserializer
        };
        let released = parts(released);
        for (name, released_part) in &released {
            let reason = match candidate.get(name) {
                Some(part) => refusal(released_part, part, role),
                None => Some("removed, while its events are retained".to_owned()),
            };
            if let Some(reason) = reason {
                refusals.push(format!("{name}, against v{version}: {reason}"));
            }
        }
        if version == latest_version {
            for name in candidate
                .keys()
                .filter(|name| !released.contains_key(*name))
            {
                refusals.push(format!(
                    "{name} is not in v{version}: a new type needs a new release"
                ));
            }
        }
    }
    refusals
}

fn with(schema: &Value, pointer: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut changed = schema.clone();
    change(changed.pointer_mut(pointer).expect("the pointer exists"));
    changed
}

#[test]
fn the_current_event_schema_is_compatible_with_every_released_contract() {
    let releases = releases();
    assert!(!releases.is_empty(), "no released contract");
    let refusals = gate(&current(), &releases);
    assert!(
        refusals.is_empty(),
        "schema/member-event.schema.json breaks the released contract:\n  {}\nSee \
         event-schema/EVOLUTION.md: a breaking change is a new event type or version, released \
         as schema/released/v<N+1>/ with consumers deployed first.",
        refusals.join("\n  ")
    );
}

/// Refusals of `candidate`, printed, with at least one saying `expected`.
fn assert_refused(candidate: &Value, expected: &str) {
    let refusals = gate(candidate, &releases());
    println!("refused:\n  {}", refusals.join("\n  "));
    assert!(
        refusals.iter().any(|refusal| refusal.contains(expected)),
        "expected a refusal saying {expected:?}, got {refusals:?}"
    );
}

#[test]
fn the_gate_refuses_a_removed_required_field() {
    let removed = with(&current(), "/$defs/MemberDeleted/required", |required| {
        *required = json!(["member_id"]);
    });
    assert_refused(&removed, "an older consumer cannot read this new event");
}

#[test]
fn the_gate_refuses_a_narrowed_or_changed_type() {
    let narrowed = with(
        &current(),
        "/$defs/MemberDeleted/properties/member_version",
        |version| version["minimum"] = json!(1),
    );
    assert_refused(&narrowed, "the new schema refuses this released event");
    let retyped = with(
        &current(),
        "/$defs/MemberDeleted/properties/member_version",
        |version| *version = json!({ "type": "string" }),
    );
    assert_refused(&retyped, "type members.member_deleted.v1, against v1");
    let narrowed_envelope = with(&current(), "/properties/source", |source| {
        source["const"] = json!("/member-service");
    });
    assert_refused(&narrowed_envelope, "the envelope, against v1");
}

#[test]
fn the_gate_refuses_a_new_event_type_without_a_new_release() {
    let new_type = with(&current(), "/oneOf", |variants| {
        let mut suspended = variants[0].clone();
        suspended["properties"]["type"]["const"] = json!("members.member_suspended.v1");
        variants.as_array_mut().expect("variants").push(suspended);
    });
    assert_refused(&new_type, "a new type needs a new release");
}

#[test]
fn the_gate_accepts_a_new_optional_field() {
    let added = with(
        &current(),
        "/$defs/MemberDeleted/properties",
        |properties| {
            properties["reason"] = json!({ "type": "string", "description": "why, when known" });
        },
    );
    let added = with(&added, "/properties", |properties| {
        properties["traceparent"] = json!({ "type": "string" });
    });
    let refusals = gate(&added, &releases());
    assert!(refusals.is_empty(), "refused: {refusals:?}");
}

/// The committed deleted sample with `change` applied to its JSON.
fn future_payload(change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(DELETED_SAMPLE).expect("sample");
    change(&mut event);
    serde_json::to_vec(&event).expect("serializes")
}

#[test]
fn an_unknown_optional_field_is_ignored_and_the_event_decodes_as_before() {
    let original = MemberEvent::decode(DELETED_SAMPLE).expect("sample decodes");
    let future = future_payload(|event| {
        event["data"]["reason"] = json!("requested by the member");
        event["traceparent"] = json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    });
    assert_eq!(MemberEvent::decode(&future).expect("decodes"), original);
}

#[test]
fn a_newer_version_of_a_known_type_is_refused_by_decoding() {
    let future = future_payload(|event| event["type"] = json!("members.member_deleted.v2"));
    let error = MemberEvent::decode(&future).expect_err("v2 is not v1");
    assert!(matches!(error, DecodeError::Malformed(_)), "{error}");
    assert!(
        error.to_string().contains("members.member_deleted.v2"),
        "{error}"
    );
}

#[test]
fn an_unknown_event_type_is_refused_by_decoding() {
    let future = future_payload(|event| event["type"] = json!("members.member_suspended.v1"));
    let error = MemberEvent::decode(&future).expect_err("an unknown type");
    assert!(matches!(error, DecodeError::Malformed(_)), "{error}");
    let future = future_payload(|event| event["specversion"] = json!("2.0"));
    let error = MemberEvent::decode(&future).expect_err("a newer CloudEvents version");
    assert!(matches!(error, DecodeError::UnsupportedSpecVersion(_)));
}
