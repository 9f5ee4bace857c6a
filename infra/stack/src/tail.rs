//! `stack events tail`: follows the member-events topic in a consumer group of its own and
//! prints each event. Being its own group, it receives every event, whatever the services'
//! groups do: the fan-out side of the topic, next to reservation-service's competing consumers.

use event_schema::MemberEvent;
use member_service::config::KafkaSecurity;
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    error::KafkaResult,
};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct TailSettings {
    pub bootstrap_servers: String,
    pub security: KafkaSecurity,
    pub topic: String,
    pub group: String,
    pub fetch_wait_max_ms: u64,
}

/// One record of the topic, decoded when it can be.
#[derive(Clone, Debug)]
pub struct TailedEvent {
    pub partition: i32,
    pub offset: i64,
    pub event: Result<MemberEvent, String>,
}

impl std::fmt::Display for TailedEvent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.event {
            Ok(event) => write!(
                formatter,
                "{}/{} {} {} member={} version={} id={}",
                self.partition,
                self.offset,
                event.time.to_rfc3339(),
                event.payload.type_name(),
                event.member_id(),
                event.payload.member_version(),
                event.id
            ),
            Err(reason) => write!(
                formatter,
                "{}/{} undecodable: {reason}",
                self.partition, self.offset
            ),
        }
    }
}

/// Calls `on_event` for every record until `shutdown`; offsets are committed as it goes, so a
/// restarted tail continues where it stopped (a new group name starts from the beginning).
pub async fn follow(
    settings: &TailSettings,
    shutdown: CancellationToken,
    mut on_event: impl FnMut(TailedEvent),
) -> KafkaResult<()> {
    let consumer: StreamConsumer = settings
        .security
        .client_config(&settings.bootstrap_servers)
        .set("group.id", &settings.group)
        .set("client.id", "events-tail")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", settings.fetch_wait_max_ms.to_string())
        .create()?;
    consumer.subscribe(&[&settings.topic])?;
    loop {
        let received = tokio::select! {
            received = consumer.recv() => received,
            () = shutdown.cancelled() => {
                // Closing waits for the broker to confirm; with the broker gone, that is forever.
                let _ = std::thread::Builder::new().name("tail-close".to_owned()).spawn(move || drop(consumer));
                return Ok(());
            }
        };
        match received {
            Ok(message) => on_event(TailedEvent {
                partition: message.partition(),
                offset: message.offset(),
                event: MemberEvent::decode(message.payload().unwrap_or_default())
                    .map_err(|error| error.to_string()),
            }),
            Err(error) => tracing::warn!(%error, "cannot receive from the broker"),
        }
    }
}
