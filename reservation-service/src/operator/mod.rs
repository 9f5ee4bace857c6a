//! Tools an operator runs from the command line, apart from the live consumer: `dlq` (list,
//! show, replay or discard parked events) and `rewind` (set the consumer group's offsets back).

pub mod dlq;
pub mod rewind;
