//! The core flow over HTTP and the broker: deleting a member cancels its reservations, once,
//! whatever the delivery does. The scenarios live in `system_tests::scenarios`, so that the
//! Testcontainers suite runs the very same ones.

use system_tests::{TestSystem, scenarios};

#[tokio::test(flavor = "multi_thread")]
async fn reservations_are_cancelled_when_member_is_deleted() {
    scenarios::reservations_are_cancelled_when_member_is_deleted(&mut TestSystem::start().await)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_member_deleted_event_delivered_twice_has_one_effect() {
    scenarios::the_same_member_deleted_event_delivered_twice_has_one_effect(
        &mut TestSystem::start().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_restarted_mid_stream_resumes_from_its_committed_offset() {
    scenarios::a_consumer_restarted_mid_stream_resumes_from_its_committed_offset(
        &mut TestSystem::start().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_events_are_parked_in_the_dead_letter_topic_and_the_consumer_moves_on() {
    scenarios::undecodable_events_are_parked_in_the_dead_letter_topic_and_the_consumer_moves_on(
        &mut TestSystem::start().await,
    )
    .await;
}
