//! `$n` placeholders for statements whose length depends on the data: sqlx's `QueryBuilder`
//! writes `?` for the `Any` driver, which PostgreSQL does not accept, so they are spelt out.

/// `$first, $first+1, …` for an `IN (…)` list of `count` values.
pub fn list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
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
    fn rows_number_their_placeholders_row_after_row() {
        assert_eq!(rows(2, 2), "($1, $2), ($3, $4)");
    }
}
