//! The dashboard and the alert rules cannot drift from the code: every metric a panel query or
//! an alert names is one the services export. (That each query returns data from a real
//! Prometheus is checked in CI by infra/prometheus/check_dashboard.py.)

use std::collections::BTreeSet;

const DASHBOARD: &str = include_str!("../../infra/grafana/dashboards/event-driven-members.json");
const ALERTS: &str = include_str!("../../infra/prometheus/alerts.yml");

/// PromQL words that are not metric names.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "le",
];

/// The metric names a PromQL expression reads: identifiers outside label matchers, ranges,
/// strings and `by (…)`-style label lists, that are not functions or keywords; a histogram's
/// `_bucket`, `_sum` and `_count` series count as their family.
fn metric_names(expression: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let mut depth = 0;
    let mut in_string = false;
    for character in expression.chars() {
        match character {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ if depth == 0 => plain.push(character),
            _ => {}
        }
    }
    let words = words(&plain);
    let mut names = BTreeSet::new();
    let mut index = 0;
    while index < words.len() {
        let (word, next) = (&words[index], words.get(index + 1).map(String::as_str));
        index += 1;
        if [
            "by",
            "without",
            "on",
            "ignoring",
            "group_left",
            "group_right",
        ]
        .contains(&word.as_str())
        {
            // Skip the label list.
            if next == Some("(") {
                while index < words.len() && words[index] != ")" {
                    index += 1;
                }
            }
            continue;
        }
        let is_name = word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        // A function, or an aggregation written `sum by (…) (…)`.
        let is_call = matches!(next, Some("(" | "by" | "without"));
        if !is_name || is_call || KEYWORDS.contains(&word.as_str()) {
            continue;
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| word.strip_suffix(suffix))
            .unwrap_or(word);
        names.insert(family.to_owned());
    }
    names
}

/// Identifiers, numbers and single punctuation characters, in order.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for character in text.chars() {
        if character.is_ascii_alphanumeric() || character == '_' || character == '.' {
            current.push(character);
            continue;
        }
        if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        if !character.is_whitespace() {
            words.push(character.to_string());
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Every family the services export: the names their metrics modules list, and what a render
/// shows (HTTP and process families included).
fn exported() -> BTreeSet<String> {
    let member = member_service::metrics::install().expect("the recorder");
    reservation_service::metrics::share(member.clone());
    let mut names: BTreeSet<String> = member_service::metrics::NAMES
        .iter()
        .chain(reservation_service::metrics::NAMES)
        .chain([
            &member_service::metrics::recorder::HTTP_REQUESTS,
            &member_service::metrics::recorder::HTTP_REQUEST_DURATION,
        ])
        .map(|name| (*name).to_owned())
        .collect();
    let rendered = member_service::metrics::render(&member);
    names.extend(rendered.lines().filter_map(|line| {
        line.strip_prefix("# TYPE ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    }));
    names
}

fn dashboard_queries() -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard JSON");
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().expect("a query").to_owned())
        .collect()
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{route="/x/{id}"}[1m]))) / sum by (service, job) (b_total) or c * 0"#,
    );
    assert_eq!(
        names,
        ["a_seconds", "b_total", "c"].map(str::to_owned).into()
    );
}

#[test]
fn every_dashboard_query_names_only_exported_metrics() {
    let exported = exported();
    let queries = dashboard_queries();
    assert!(queries.len() >= 10, "the panels the issue asks for");
    for query in &queries {
        let names = metric_names(query);
        assert!(!names.is_empty(), "no metric in {query}");
        let unknown: Vec<_> = names.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{query} names {unknown:?}, which no service exports"
        );
    }
}

#[test]
fn every_alert_names_only_exported_metrics() {
    let exported = exported();
    let alerts: serde_yaml::Value = serde_yaml::from_str(ALERTS).expect("alerts YAML");
    let rules = alerts["groups"][0]["rules"].as_sequence().expect("rules");
    assert!(rules.len() >= 3);
    for rule in rules {
        let expression = rule["expr"].as_str().expect("an expression");
        let unknown: Vec<_> = metric_names(expression)
            .into_iter()
            .filter(|name| !exported.contains(name))
            .collect();
        assert!(unknown.is_empty(), "{expression} names {unknown:?}");
    }
}
