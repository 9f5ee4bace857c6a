//! How many events one transaction may write. Each statement of a batch binds a few parameters
//! per event, and a database takes only so many in one statement: past that limit the statement
//! is refused whole, and retrying the same batch would be refused again for ever. Batches are
//! therefore written in slices that fit.

/// Bind parameters in one statement: SQLite's limit (32766 since 3.32; the SQLite that sqlx
/// bundles is newer) is the smaller of the two backends' (PostgreSQL's is 65535).
pub const MAX_BIND_PARAMETERS: usize = 32_766;

/// Parameters per event in a batch's widest statement: the member list binds 4 per member, and
/// a batch has at most one member per event. The others bind fewer: the stream locks and the
/// member lookup 1 per member, the parked-event lookup 1 per member and 4 per partition; the
/// change log slices its own rows, and a parked event is written on its own.
pub const PARAMETERS_PER_EVENT: usize = 4;

/// The most events one transaction writes: 8191.
pub const MAX_EVENTS_PER_TRANSACTION: usize = MAX_BIND_PARAMETERS / PARAMETERS_PER_EVENT;

const _: () = assert!(
    MAX_BIND_PARAMETERS <= u16::MAX as usize,
    "PostgreSQL's limit is 65535"
);

/// `events` in slices of at most [`MAX_EVENTS_PER_TRANSACTION`], in order, each written in a
/// transaction of its own.
pub fn transactions<T>(events: &[T]) -> std::slice::Chunks<'_, T> {
    events.chunks(MAX_EVENTS_PER_TRANSACTION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_statement_of_a_full_transaction_fits_both_databases() {
        assert_eq!(MAX_EVENTS_PER_TRANSACTION, 8191);
        assert_eq!(MAX_EVENTS_PER_TRANSACTION * PARAMETERS_PER_EVENT, 32_764);
    }

    #[test]
    fn a_batch_is_sliced_in_order_and_whole() {
        let events: Vec<usize> = (0..20_000).collect();
        let slices: Vec<&[usize]> = transactions(&events).collect();
        assert_eq!(
            slices.iter().map(|slice| slice.len()).collect::<Vec<_>>(),
            [8191, 8191, 3618]
        );
        assert_eq!(slices.concat(), events);
        assert_eq!(transactions(&events[..1]).count(), 1);
    }
}
