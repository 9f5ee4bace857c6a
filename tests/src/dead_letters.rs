//! Reading what the consumer parked in the dead-letter topic.

use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    message::Headers,
};
use uuid::Uuid;

use crate::{TestSystem, system::DEADLINE};

pub struct ParkedEvent {
    pub key: Option<String>,
    pub payload: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl ParkedEvent {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// The first event in the system's dead-letter topic.
pub async fn read_one(system: &TestSystem) -> ParkedEvent {
    let consumer: StreamConsumer = system
        .broker
        .client_config()
        .set(
            "group.id",
            format!("dead-letter-reader-{}", Uuid::now_v7().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set(
            "fetch.wait.max.ms",
            system.broker.fetch_wait_max_ms().to_string(),
        )
        .create()
        .expect("dead-letter consumer");
    consumer
        .subscribe(&[&system.dead_letter_topic])
        .expect("subscribe");
    let message = tokio::time::timeout(DEADLINE, consumer.recv())
        .await
        .expect("a parked event within the deadline")
        .expect("dead-letter message");
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|header| {
                    (
                        header.key.to_owned(),
                        String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ParkedEvent {
        key: message
            .key()
            .map(|key| String::from_utf8_lossy(key).into_owned()),
        payload: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}
