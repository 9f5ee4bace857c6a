//! Retention: published outbox rows older than the cutoff are pruned in bounded batches;
//! unpublished rows and recent ones stay.

use chrono::{Duration, Utc};
use member_service::{
    db::{self, outbox},
    retention,
};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::helpers::TestApp;

async fn outbox_sequences(app: &TestApp) -> Vec<i64> {
    sqlx::query("SELECT sequence FROM outbox ORDER BY sequence")
        .fetch_all(app.pool())
        .await
        .expect("outbox rows")
        .iter()
        .map(|row| row.try_get("sequence").expect("sequence"))
        .collect()
}

#[tokio::test]
async fn published_rows_older_than_the_retention_are_pruned_in_batches_and_no_others() {
    let app = TestApp::spawn().await;
    for _ in 0..6 {
        app.register_member().await;
    }
    let sequences = outbox_sequences(&app).await;
    assert_eq!(sequences.len(), 6);
    let now = db::time::now();
    let mut connection = app.pool().acquire().await.expect("connection");
    // Five published long ago, none of them the newest; one published just now.
    let (old, rest) = sequences.split_at(5);
    outbox::mark_published(&mut connection, &old[..4], now - Duration::days(30))
        .await
        .expect("stamp old rows");
    outbox::mark_published(&mut connection, rest, now)
        .await
        .expect("stamp a recent row");
    drop(connection);
    // old[4] stays unpublished, however old its event: it must still be sent.

    let cutoff = retention::cutoff(now, std::time::Duration::from_secs(14 * 24 * 3600));
    let pruned = retention::sweep(app.pool(), cutoff, 3, &CancellationToken::new())
        .await
        .expect("sweep");

    assert_eq!(pruned, 4, "two batches of at most 3");
    assert_eq!(outbox_sequences(&app).await, vec![old[4], rest[0]]);
    let mut connection = app.pool().acquire().await.expect("connection");
    assert_eq!(
        outbox::backlog(&mut connection).await.expect("backlog"),
        1,
        "the unpublished row is still waiting"
    );
}

#[tokio::test]
async fn a_sweep_with_nothing_to_prune_deletes_nothing() {
    let app = TestApp::spawn().await;
    app.register_member().await;
    let pruned = retention::sweep(
        app.pool(),
        Utc::now() - Duration::days(1),
        1_000,
        &CancellationToken::new(),
    )
    .await
    .expect("sweep");
    assert_eq!(pruned, 0);
    assert_eq!(outbox_sequences(&app).await.len(), 1);
}
