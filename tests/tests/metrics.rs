//! `/metrics` of both services after the end-to-end flow: the counters moved by exactly what the
//! flow did, the outbox backlog and the consumer's lag return to 0, and a thousand different
//! members add no series. The recorder is process-wide, so this file holds one test (one
//! system in its process) and compares scrapes before and after, never absolute values.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use reqwest::StatusCode;
use system_tests::{TestSystem, eventually, system::DEADLINE};
use uuid::Uuid;

/// One scrape: each series (`name{labels}`) and its value.
#[derive(Debug)]
struct Scrape {
    series: BTreeMap<String, f64>,
    text: String,
}

impl Scrape {
    /// The sum of the series named `name` that carry every one of `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series
            .iter()
            .filter(|(series, _)| {
                let (series_name, series_labels) =
                    series.split_once('{').unwrap_or((series.as_str(), ""));
                series_name == name
                    && labels
                        .iter()
                        .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"")))
            })
            .map(|(_, value)| value)
            .sum()
    }

    fn count(&self, name: &str) -> usize {
        self.series
            .keys()
            .filter(|series| series.split('{').next() == Some(name))
            .count()
    }
}

async fn scrape(system: &TestSystem, base_url: &str) -> Scrape {
    let response = system
        .http
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("the metrics");
    let series = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a series and its value");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect();
    Scrape { series, text }
}

/// Both services' scrapes, once `done` holds, the outbox is empty and the consumer has no lag on
/// any of the topic's partitions. The gauges are measured once a second, so `done` is what
/// says the work is over; the gauges must then say so too.
async fn settled(system: &TestSystem, done: impl Fn(&Scrape, &Scrape) -> bool) -> (Scrape, Scrape) {
    let reservation_url = system.reservation_url("");
    eventually(
        "the flow counted, an empty outbox and no lag",
        DEADLINE,
        || async {
            let members = scrape(system, &system.member.base_url).await;
            let reservations = scrape(system, &reservation_url).await;
            let settled = done(&members, &reservations)
                && members.sum("member_outbox_waiting_events", &[]) == 0.0
                && reservations.count("reservation_consumer_lag_events")
                    == usize::try_from(event_schema::Topic::MemberEvents.partitions()).ok()?
                && reservations.sum("reservation_consumer_lag_events", &[]) == 0.0
                && reservations.sum("reservation_consumer_in_flight_events", &[]) == 0.0;
            settled.then_some((members, reservations))
        },
    )
    .await
}

const REGISTERED: &str = "members.member_registered.v1";
const DELETED: &str = "members.member_deleted.v1";
const PUBLISHED: &str = "member_outbox_published_events_total";
const EVENTS: &str = "reservation_consumer_events_total";

/// Events published and applied, of every type and outcome.
fn totals(members: &Scrape, reservations: &Scrape) -> (f64, f64) {
    (members.sum(PUBLISHED, &[]), reservations.sum(EVENTS, &[]))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_exactly_what_the_flow_did_and_members_add_no_series() {
    let system = TestSystem::start().await;
    // One round of the flow first, so that every series the flow touches exists.
    let warm_up = system.register_known_member().await;
    system.reserve(warm_up).await;
    assert_eq!(system.delete_member(warm_up).await, StatusCode::NO_CONTENT);
    let (members_before, reservations_before) = settled(&system, |members, reservations| {
        totals(members, reservations) == (2.0, 2.0)
    })
    .await;

    let (registered, deleted, reservations_each) = (5_u32, 3_u32, 2_u32);
    let mut member_ids = Vec::new();
    for _ in 0..registered {
        member_ids.push(system.register_known_member().await);
    }
    let mut reservation_ids = Vec::new();
    for member_id in &member_ids {
        for _ in 0..reservations_each {
            reservation_ids.push(system.reserve(*member_id).await);
        }
    }
    for member_id in &member_ids[..deleted as usize] {
        assert_eq!(
            system.delete_member(*member_id).await,
            StatusCode::NO_CONTENT
        );
    }
    for id in &reservation_ids[..(deleted * reservations_each) as usize] {
        system.wait_until_cancelled(*id).await;
    }
    let flow = f64::from(registered + deleted);
    let (members_after, reservations_after) = settled(&system, |members, reservations| {
        let (published, applied) = totals(members, reservations);
        let (published_before, applied_before) = totals(&members_before, &reservations_before);
        (published - published_before, applied - applied_before) == (flow, flow)
    })
    .await;

    let member_delta = |name: &str, labels: &[(&str, &str)]| {
        members_after.sum(name, labels) - members_before.sum(name, labels)
    };
    let reservation_delta = |name: &str, labels: &[(&str, &str)]| {
        reservations_after.sum(name, labels) - reservations_before.sum(name, labels)
    };
    let made = f64::from(registered * reservations_each);
    let cancelled = f64::from(deleted * reservations_each);
    let (registered, deleted) = (f64::from(registered), f64::from(deleted));
    let published = PUBLISHED;
    assert_eq!(
        member_delta(published, &[("event_type", REGISTERED)]),
        registered
    );
    assert_eq!(member_delta(published, &[("event_type", DELETED)]), deleted);
    let delays = "member_outbox_publish_delay_seconds_count";
    assert_eq!(member_delta(delays, &[]), registered + deleted);
    let requests = "http_requests_total";
    let member_service = ("service", "member-service");
    let registrations = [member_service, ("route", "/members"), ("status", "201")];
    assert_eq!(member_delta(requests, &registrations), registered);
    let deletions = [
        member_service,
        ("route", "/members/{id}"),
        ("status", "204"),
    ];
    assert_eq!(member_delta(requests, &deletions), deleted);

    let events = EVENTS;
    let applied = ("outcome", "applied");
    let registered_applied = [applied, ("event_type", REGISTERED)];
    assert_eq!(reservation_delta(events, &registered_applied), registered);
    assert_eq!(
        reservation_delta(events, &[applied, ("event_type", DELETED)]),
        deleted
    );
    for outcome in ["duplicate", "stale", "parked"] {
        assert_eq!(
            reservation_delta(events, &[("outcome", outcome)]),
            0.0,
            "{outcome}"
        );
    }
    let cancellations = "reservation_consumer_reservations_cancelled_total";
    assert_eq!(reservation_delta(cancellations, &[]), cancelled);
    let ages = "reservation_consumer_event_age_seconds_count";
    assert_eq!(reservation_delta(ages, &[("event_type", DELETED)]), deleted);
    let reservation_service = ("service", "reservation-service");
    let reserved = [
        reservation_service,
        ("route", "/reservations"),
        ("status", "201"),
    ];
    assert_eq!(reservation_delta(requests, &reserved), made);
    assert_eq!(
        reservations_after.sum("reservation_parked_waiting_events", &[]),
        0.0
    );
    let running = [("state", "running")];
    assert_eq!(
        reservations_after.sum("reservation_consumer_state", &running),
        1.0
    );
    // Each service shows its own series only, though both record into one recorder here.
    assert!(!members_after.text.contains("reservation_"));
    assert!(!reservations_after.text.contains("member_outbox"));
    assert!(
        !members_after
            .text
            .contains("service=\"reservation-service\"")
    );

    // A thousand members more: their registrations and events count, their ids label nothing.
    let many: Vec<Uuid> = stream::iter(0..1_000)
        .map(|_| system.register_member())
        .buffer_unordered(16)
        .collect()
        .await;
    let (members_later, reservations_later) = settled(&system, |members, reservations| {
        let (published, applied) = totals(members, reservations);
        let (published_before, applied_before) = totals(&members_after, &reservations_after);
        (published - published_before, applied - applied_before) == (1_000.0, 1_000.0)
    })
    .await;
    assert_eq!(
        members_later.sum(published, &[("event_type", REGISTERED)])
            - members_after.sum(published, &[("event_type", REGISTERED)]),
        1_000.0
    );
    assert_eq!(
        members_later.series.keys().collect::<Vec<_>>(),
        members_after.series.keys().collect::<Vec<_>>(),
        "member-service's series changed"
    );
    assert_eq!(
        reservations_later.series.keys().collect::<Vec<_>>(),
        reservations_after.series.keys().collect::<Vec<_>>(),
        "reservation-service's series changed"
    );
    for member_id in many.iter().chain(&member_ids) {
        let id = member_id.to_string();
        assert!(!members_later.text.contains(&id) && !reservations_later.text.contains(&id));
    }
}
