//! `$n` placeholders for statements whose length depends on the data: sqlx's `QueryBuilder`
//! writes `?` for the `Any` driver, which PostgreSQL does not accept, so they are spelt out.

/// `$first, $first+1, …` for an `IN (…)` list of `count` values.
pub fn list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many values an `IN (…)` list of `count` values binds: the next power of two. A statement
/// is prepared and cached by its text, so a list of each length would be parsed and planned again
/// (as many texts per statement as there are batch sizes, more than the connection's cache
/// holds); rounded up, nine texts cover 1 to 256 values. The extra places repeat the last value,
/// which changes nothing in an `IN`.
pub fn padded_count(count: usize) -> usize {
    count.max(1).next_power_of_two()
}

/// `values`, then the last of them repeated up to [`padded_count`].
pub fn padded<T>(values: &[T]) -> impl Iterator<Item = &T> {
    let extra = padded_count(values.len()) - values.len();
    values
        .iter()
        .chain(std::iter::repeat_n(values.last(), extra).flatten())
}

/// `($1, $2), ($3, $4), …` for a multi-row `VALUES` of `rows` rows of `columns` values.
pub fn rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", list(1 + row * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_numbers_its_placeholders_from_the_first() {
        assert_eq!(list(3, 3), "$3, $4, $5");
        assert_eq!(list(1, 0), "");
    }

    #[test]
    fn lists_are_padded_to_a_power_of_two_with_their_last_value() {
        assert_eq!(padded_count(0), 1);
        assert_eq!(padded_count(1), 1);
        assert_eq!(padded_count(5), 8);
        assert_eq!(padded_count(256), 256);
        let values: Vec<&i32> = padded(&[1, 2, 3]).collect();
        assert_eq!(values, [&1, &2, &3, &3]);
        assert_eq!(padded::<i32>(&[]).count(), 0);
    }

    #[test]
    fn rows_number_their_placeholders_row_after_row() {
        assert_eq!(rows(2, 2), "($1, $2), ($3, $4)");
    }
}
