//! Fetching from an offset inside a stored record batch: finding the batch, and cutting it so
//! that it starts at the offset.
//!
//! Kafka answers a fetch from an offset inside a batch with that batch, and the client skips the
//! records before the offset. tansu's fetch service instead counts the records of each batch it
//! gets onto the offset it asked for, so a batch it is given must start exactly there: the
//! records before the offset are dropped and the rest renumbered.

use tansu_sans_io::{
    IsolationLevel,
    record::{self, deflated, inflated},
};
use tansu_storage::{Result, Storage, Topition};

/// The stored batch whose records include `offset`, if one does. Steps back from the offset,
/// twice as far each time, until a batch starts at or before it, then walks forward to it.
pub async fn batch_holding(
    storage: &impl Storage,
    topition: &Topition,
    offset: i64,
    isolation: IsolationLevel,
) -> Result<Option<deflated::Batch>> {
    let stage = storage.offset_stage(topition).await?;
    let end = match isolation {
        IsolationLevel::ReadCommitted => stage.last_stable(),
        IsolationLevel::ReadUncommitted => stage.high_watermark(),
    };
    if offset <= stage.log_start() || offset >= end {
        return Ok(None);
    }
    let mut distance = 1;
    loop {
        let from = (offset - distance).max(stage.log_start());
        let mut cursor = from;
        // One batch per fetch: the storage stops once it has at least `max_bytes`.
        while let Some(batch) = storage
            .fetch(topition, cursor, 0, 1, isolation)
            .await?
            .into_iter()
            .next()
        {
            if batch.base_offset > offset {
                break;
            }
            if batch.max_offset() >= offset {
                return Ok(Some(batch));
            }
            cursor = batch.max_offset() + 1;
        }
        if from == stage.log_start() {
            return Ok(None);
        }
        distance *= 2;
    }
}

/// `batch` from `offset` on (`offset` must fall inside it).
pub fn starting_at(
    batch: deflated::Batch,
    offset: i64,
) -> Result<deflated::Batch, tansu_sans_io::Error> {
    let skipped = i32::try_from(offset - batch.base_offset)?;
    let mut batch = inflated::Batch::try_from(batch)?;
    batch.records = batch
        .records
        .into_iter()
        .filter(|kept| kept.offset_delta >= skipped)
        // Through the builder: a record's length covers its offset delta, which may get shorter.
        .map(|kept| {
            let offset_delta = kept.offset_delta - skipped;
            record::Builder::from(kept)
                .offset_delta(offset_delta)
                .build()
        })
        .collect::<Result<_, _>>()?;
    batch.base_offset = offset;
    batch.last_offset_delta -= skipped;
    // Only an idempotent producer's batches carry sequence numbers.
    if batch.base_sequence >= 0 {
        batch.base_sequence += skipped;
    }
    deflated::Batch::try_from(batch)
}

#[cfg(test)]
mod tests {
    use tansu_sans_io::record::Record;

    use super::*;

    fn batch(base_offset: i64, values: &[&str]) -> deflated::Batch {
        let records = values
            .iter()
            .enumerate()
            .map(|(index, value)| {
                Record::builder()
                    .offset_delta(index as i32)
                    .value(Some(value.as_bytes().to_vec().into()))
            })
            .fold(inflated::Batch::builder(), |builder, record| {
                builder.record(record)
            })
            .base_offset(base_offset)
            .last_offset_delta(values.len() as i32 - 1)
            .build()
            .expect("batch builds");
        deflated::Batch::try_from(records).expect("batch deflates")
    }

    fn values(batch: deflated::Batch) -> Vec<(i64, String)> {
        let base_offset = batch.base_offset;
        inflated::Batch::try_from(batch)
            .expect("batch inflates")
            .records
            .into_iter()
            .map(|record| {
                let value = record.value.expect("value");
                (
                    base_offset + i64::from(record.offset_delta),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn a_batch_cut_inside_keeps_the_records_from_the_offset_with_their_offsets() {
        let values_in_batch: Vec<String> = (0..200).map(|index| format!("event {index}")).collect();
        let names: Vec<&str> = values_in_batch.iter().map(String::as_str).collect();
        let cut = starting_at(batch(1_000, &names), 1_150).expect("batch cut");

        assert_eq!(cut.base_offset, 1_150);
        assert_eq!(cut.record_count, 50);
        assert_eq!(cut.max_offset(), 1_199);
        let expected: Vec<(i64, String)> = (150..200)
            .map(|index| (1_000 + index, format!("event {index}")))
            .collect();
        assert_eq!(values(cut), expected);
    }

    #[test]
    fn a_batch_cut_at_its_start_is_unchanged() {
        let original = batch(7, &["a", "b", "c"]);
        let cut = starting_at(original.clone(), 7).expect("batch cut");
        assert_eq!(values(cut), values(original));
    }
}
