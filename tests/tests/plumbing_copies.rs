//! The plumbing both services copy stays identical (docs/decisions/0001-shared-plumbing.md).
//! This list is the list of copies: to let a file diverge on purpose, take it off in the same
//! commit.

use std::path::{Path, PathBuf};

/// Paths under each service's folder.
const COPIES: &[&str] = &[
    "src/http/problem.rs",
    "src/http/limits.rs",
    "src/http/server.rs",
    "src/http/authentication.rs",
    "src/auth/mod.rs",
    "src/auth/keys.rs",
    "src/auth/scope.rs",
    "src/auth/tokens.rs",
    "src/auth/tokens_tests.rs",
    "src/domain/validation.rs",
    "src/telemetry.rs",
    "src/metrics/recorder.rs",
    "src/http/metrics.rs",
    "src/trace_context.rs",
    "src/config/environment.rs",
    "src/config/kafka.rs",
    "src/db/connection.rs",
    "src/db/placeholders.rs",
    "src/db/time.rs",
    "tests/api/openapi_checks.rs",
];

const SERVICES: [&str; 2] = ["member-service", "reservation-service"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// `None` when both copies are the same; otherwise what differs, for a person to read.
fn difference(path: &str) -> Option<String> {
    let [first, second] = SERVICES.map(|service| {
        let file = format!("{service}/{path}");
        std::fs::read_to_string(workspace().join(&file)).map_err(|error| format!("{file}: {error}"))
    });
    let (first, second) = match (first, second) {
        (Ok(first), Ok(second)) => (first, second),
        (Err(error), _) | (_, Err(error)) => return Some(format!("{path}: cannot read {error}")),
    };
    if first == second {
        return None;
    }
    let mut first_lines = first.lines();
    let mut second_lines = second.lines();
    let mut line = 1;
    loop {
        match (first_lines.next(), second_lines.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (None, None) => return Some(format!("{path} differs in line endings or whitespace")),
            (a, b) => {
                let show = |text: Option<&str>| {
                    text.map_or("(end of file)".to_owned(), |text| format!("{text:?}"))
                };
                return Some(format!(
                    "{path} differs from line {line}:\n    {}: {}\n    {}: {}",
                    SERVICES[0],
                    show(a),
                    SERVICES[1],
                    show(b)
                ));
            }
        }
    }
}

#[test]
fn the_plumbing_both_services_copy_is_identical() {
    let differences: Vec<String> = COPIES.iter().filter_map(|path| difference(path)).collect();
    assert!(
        differences.is_empty(),
        "copies of plumbing have diverged; make the same change in both services \
         (docs/decisions/0001-shared-plumbing.md):\n  {}",
        differences.join("\n  ")
    );
}
