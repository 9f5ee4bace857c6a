//! The copy of a parked event that goes to the dead-letter topic: its key and bytes untouched,
//! with why and where from in headers. A topic refuses a message over its size limit, and a copy
//! refused for ever would hold the consumer up for ever; such a body is left out, and the copy
//! carries its digest (SHA-256) and length instead. The bytes stay in the parked record.

use chrono::SecondsFormat;
use sha2::{Digest, Sha256};

use super::{Delivery, Failure};

pub const HEADER_REASON: &str = "dlq.reason";
pub const HEADER_ORIGINAL_TOPIC: &str = "dlq.original.topic";
pub const HEADER_ORIGINAL_PARTITION: &str = "dlq.original.partition";
pub const HEADER_ORIGINAL_OFFSET: &str = "dlq.original.offset";
pub const HEADER_ATTEMPTS: &str = "dlq.attempts";
pub const HEADER_FIRST_FAILED_AT: &str = "dlq.first.failed.at";
pub const HEADER_CONSUMER_GROUP: &str = "dlq.consumer.group";
/// Set when the body is left out: why, and the body's SHA-256 (hex) and length in bytes.
pub const HEADER_PAYLOAD_OMITTED: &str = "dlq.payload.omitted";
pub const HEADER_PAYLOAD_SHA256: &str = "dlq.payload.sha256";
pub const HEADER_PAYLOAD_BYTES: &str = "dlq.payload.bytes";
/// The same for a key too large to be sent.
pub const HEADER_KEY_SHA256: &str = "dlq.key.sha256";

/// What a record costs beyond its key, body and headers: the record batch's header and each
/// record's lengths and offsets (about 100 bytes), with room to spare.
const RECORD_OVERHEAD_BYTES: usize = 512;

/// A message for the dead-letter topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterCopy<'a> {
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: Vec<(&'static str, String)>,
}

impl DeadLetterCopy<'_> {
    /// What the broker counts against its limit, give or take the overhead.
    pub fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        self.key.map_or(0, <[u8]>::len)
            + self.payload.map_or(0, <[u8]>::len)
            + headers
            + RECORD_OVERHEAD_BYTES
    }

    pub fn payload_omitted(&self) -> bool {
        self.headers
            .iter()
            .any(|(name, _)| *name == HEADER_PAYLOAD_OMITTED)
    }
}

/// The copy of `delivery`, parked for `failure`: whole when it fits in `max_message_bytes`,
/// without its body (then without its key too) when it does not.
pub fn dead_letter_copy<'a>(
    delivery: &'a Delivery,
    failure: &Failure,
    consumer_group: &str,
    max_message_bytes: usize,
) -> DeadLetterCopy<'a> {
    let whole = DeadLetterCopy {
        key: delivery.key.as_deref(),
        payload: delivery.payload.as_deref(),
        headers: vec![
            (HEADER_REASON, failure.reason.clone()),
            (HEADER_ATTEMPTS, failure.attempts.to_string()),
            (HEADER_ORIGINAL_TOPIC, delivery.topic.clone()),
            (HEADER_ORIGINAL_PARTITION, delivery.partition.to_string()),
            (HEADER_ORIGINAL_OFFSET, delivery.offset.to_string()),
            (
                HEADER_FIRST_FAILED_AT,
                failure
                    .first_failed_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            ),
            (HEADER_CONSUMER_GROUP, consumer_group.to_owned()),
        ],
    };
    if whole.size() <= max_message_bytes {
        return whole;
    }
    without_body(whole)
}

/// `copy` with its body (and, should that not be enough, its key) replaced by digests: for a copy
/// over our own limit, or one the broker refused as too large for its.
pub fn without_body(mut copy: DeadLetterCopy<'_>) -> DeadLetterCopy<'_> {
    if let Some(payload) = copy.payload.take() {
        copy.headers.extend([
            (
                HEADER_PAYLOAD_OMITTED,
                "too large for the dead-letter topic; the parked record keeps it".to_owned(),
            ),
            (HEADER_PAYLOAD_SHA256, sha256_hex(payload)),
            (HEADER_PAYLOAD_BYTES, payload.len().to_string()),
        ]);
    }
    // A key is as long as its producer made it; past a few hundred bytes it is no member id.
    if let Some(key) = copy.key.filter(|key| key.len() > 256) {
        copy.headers.push((HEADER_KEY_SHA256, sha256_hex(key)));
        copy.key = None;
    }
    copy
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn delivery(payload_bytes: usize) -> Delivery {
        Delivery {
            topic: "member-events".to_owned(),
            partition: 2,
            offset: 41,
            key: Some(b"0190b6a2-0000-7000-8000-000000000001".to_vec()),
            payload: Some(vec![b'x'; payload_bytes]),
        }
    }

    fn failure() -> Failure {
        Failure {
            reason: "message has no payload".to_owned(),
            attempts: 1,
            first_failed_at: Utc::now(),
        }
    }

    fn header<'a>(copy: &'a DeadLetterCopy<'_>, name: &str) -> Option<&'a str> {
        copy.headers
            .iter()
            .find(|(header, _)| *header == name)
            .map(|(_, value)| value.as_str())
    }

    #[test]
    fn a_copy_that_fits_is_sent_whole_with_its_reason_and_position() {
        let delivery = delivery(100);
        let copy = dead_letter_copy(&delivery, &failure(), "reservation-service", 1_000_000);
        assert_eq!(copy.payload, delivery.payload.as_deref());
        assert_eq!(copy.key, delivery.key.as_deref());
        assert!(!copy.payload_omitted());
        assert_eq!(header(&copy, HEADER_REASON), Some("message has no payload"));
        assert_eq!(header(&copy, HEADER_ORIGINAL_PARTITION), Some("2"));
        assert_eq!(header(&copy, HEADER_ORIGINAL_OFFSET), Some("41"));
    }

    #[test]
    fn a_body_over_the_limit_is_replaced_by_its_digest_and_length() {
        let delivery = delivery(2_000);
        let copy = dead_letter_copy(&delivery, &failure(), "reservation-service", 1_500);
        assert_eq!(copy.payload, None);
        assert_eq!(copy.key, delivery.key.as_deref(), "a member id key is kept");
        assert_eq!(header(&copy, HEADER_PAYLOAD_BYTES), Some("2000"));
        // sha256 of 2000 times "x".
        let expected = sha256_hex(&[b'x'; 2_000]);
        assert_eq!(
            header(&copy, HEADER_PAYLOAD_SHA256),
            Some(expected.as_str())
        );
        assert_eq!(expected.len(), 64);
        assert_eq!(header(&copy, HEADER_REASON), Some("message has no payload"));
        assert!(copy.size() <= 1_500);
    }

    #[test]
    fn the_digest_is_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_oversized_key_goes_too() {
        let mut delivery = delivery(10);
        delivery.key = Some(vec![b'k'; 5_000]);
        let copy = dead_letter_copy(&delivery, &failure(), "reservation-service", 2_000);
        assert_eq!((copy.key, copy.payload), (None, None));
        assert!(header(&copy, HEADER_KEY_SHA256).is_some());
        assert!(copy.size() <= 2_000);
    }
}
