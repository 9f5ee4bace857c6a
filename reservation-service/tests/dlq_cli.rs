//! The `dlq` subcommands as an operator runs them: the real binary against a database with
//! parked events in it.

use std::process::{Command, Output};

use chrono::Utc;
use event_schema::{MemberDeleted, MemberEvent, MemberEventData};
use reservation_service::db::{self, parked_events::NewParkedEvent};
use secrecy::SecretString;
use uuid::Uuid;

fn run(database_url: &str, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reservation-service"))
        .env("DATABASE_URL", database_url)
        .args(arguments)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn an_operator_lists_shows_discards_and_replays_parked_events() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database_url = format!(
        "sqlite://{}",
        directory.path().join("reservations.db").display()
    );
    let pool = db::connect(&SecretString::from(database_url.clone()), 1)
        .await
        .expect("database");
    let member = Uuid::now_v7();
    let deletion = MemberEvent::new(
        "/member-service",
        MemberEventData::Deleted(MemberDeleted {
            member_id: member,
            member_version: 2,
        }),
    );
    let key = member.to_string();
    let deletion_json = deletion.to_json();
    let mut connection = pool.acquire().await.expect("connection");
    // Garbage at offset 7, and the member's deletion parked behind it at offset 8.
    for (offset, payload, reason) in [
        (
            7,
            b"{\"truncated".as_slice(),
            "payload is not a member event",
        ),
        (
            8,
            deletion_json.as_bytes(),
            "parked behind an earlier event",
        ),
    ] {
        db::parked_events::insert(
            &mut connection,
            &NewParkedEvent {
                id: Uuid::now_v7(),
                member_id: Some(&key),
                event_id: None,
                source_topic: "member-events",
                source_partition: 1,
                source_offset: offset,
                message_key: Some(key.as_bytes()),
                payload: Some(payload),
                reason,
                attempts: 1,
                first_failed_at: Utc::now(),
                parked_at: Utc::now(),
            },
        )
        .await
        .expect("park");
    }
    drop(connection);
    pool.close().await;

    let listed = run(&database_url, &["dlq", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    let listed = stdout(&listed);
    assert!(listed.contains("2 event(s)"), "{listed}");
    assert!(listed.contains("1:7") && listed.contains("1:8"), "{listed}");
    let poison_id = listed
        .lines()
        .find(|line| line.contains("1:7"))
        .and_then(|line| line.split_whitespace().next())
        .expect("poison id")
        .to_owned();

    let shown = stdout(&run(&database_url, &["dlq", "show", &poison_id]));
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("show prints JSON");
    assert_eq!(shown["payload"], "{\"truncated");
    assert_eq!(shown["status"], "parked");

    // Replaying the member stops at the garbage: order first.
    let blocked = stdout(&run(&database_url, &["dlq", "replay", "--member", &key]));
    assert!(blocked.contains("0 replayed, 1 still parked"), "{blocked}");

    let without_reason = run(
        &database_url,
        &["dlq", "discard", &poison_id, "--reason", " "],
    );
    assert!(!without_reason.status.success());
    let discarded = run(
        &database_url,
        &["dlq", "discard", &poison_id, "--reason", "garbage"],
    );
    assert!(discarded.status.success(), "{discarded:?}");

    let replayed = stdout(&run(&database_url, &["dlq", "replay", "--member", &key]));
    assert!(replayed.contains("deleted"), "{replayed}");
    assert!(
        replayed.contains("1 replayed, 0 still parked"),
        "{replayed}"
    );
    // Twice: nothing left to do, and the operator is told so.
    let again = stdout(&run(&database_url, &["dlq", "replay", "--all"]));
    assert!(again.contains("0 replayed, 0 still parked"), "{again}");
    let listed_all = stdout(&run(&database_url, &["dlq", "list", "--all"]));
    assert!(
        listed_all.contains("discarded") && listed_all.contains("replayed"),
        "{listed_all}"
    );
}

#[test]
fn the_tools_refuse_a_database_that_does_not_exist_instead_of_creating_it() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_reservation-service"))
        .env_remove("DATABASE_URL")
        .current_dir(directory.path())
        .args(["dlq", "list"])
        .output()
        .expect("the binary runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", stdout(&output));
    assert!(
        stderr.contains("reservation-service.db") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(directory.path())
            .expect("directory")
            .next()
            .is_none(),
        "no file is created"
    );
}
