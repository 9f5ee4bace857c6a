//! What both services' settings have in common: how a value is read (secrets, milliseconds), the
//! log format, and reading settings from a set of variables the way the binary would.

use std::time::Duration;

use clap::{CommandFactory, Parser, ValueEnum};
use secrecy::SecretString;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

/// A `*_MS` setting: whole milliseconds.
pub fn parse_milliseconds(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_millis)
}

/// A `*_MS` setting that must be at least a millisecond and fit Kafka's 32-bit settings.
pub fn parse_positive_milliseconds(value: &str) -> Result<Duration, String> {
    match value.parse::<u32>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(milliseconds) => Ok(Duration::from_millis(u64::from(milliseconds))),
        Err(error) => Err(error.to_string()),
    }
}

/// Variables that tooling in this repository reads and that share a prefix with a setting:
/// `infra/kafka/kafka.sh`'s, and the tests' way to stop and start that Kafka.
const OTHER_TOOLS_VARIABLES: &[&str] = &[
    "KAFKA_HOME",
    "KAFKA_DATA_DIR",
    "KAFKA_BOOTSTRAP",
    "KAFKA_CONTROL_SCRIPT",
];

/// Those of `names` that start like a variable of `Settings` (up to its last word: `KAFKA_`,
/// `DEAD_LETTER_`, …) but that no setting reads: most likely misspelt, leaving a default in
/// force.
pub fn unrecognised_variables<Settings: CommandFactory>(
    names: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let command = Settings::command();
    let settings: Vec<&str> = command
        .get_arguments()
        .filter_map(|argument| argument.get_env()?.to_str())
        .collect();
    let prefixes: Vec<&str> = settings
        .iter()
        .filter_map(|setting| setting.rfind('_').map(|end| &setting[..=end]))
        .collect();
    names
        .into_iter()
        .filter(|name| {
            prefixes.iter().any(|prefix| name.starts_with(prefix))
                && !settings.contains(&name.as_str())
                && !OTHER_TOOLS_VARIABLES.contains(&name.as_str())
        })
        .collect()
}

/// Defaults with the given overrides (flag names without `--`), as the binary would see them.
pub fn from_pairs<'a, Settings: Parser>(
    pairs: impl IntoIterator<Item = (&'a str, String)>,
) -> Result<Settings, clap::Error> {
    let mut arguments = vec![Settings::command().get_name().to_owned()];
    for (flag, value) in pairs {
        arguments.push(format!("--{flag}={value}"));
    }
    Settings::try_parse_from(arguments)
}

/// Parses a set of environment variables exactly as the binary would see them, without
/// touching the process environment. Names that are not settings are an error, except
/// `RUST_LOG`.
pub fn from_environment<'a, Settings: Parser>(
    variables: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Settings, clap::Error> {
    let command = Settings::command();
    let mut arguments = vec![command.get_name().to_owned()];
    for (name, value) in variables {
        if name == "RUST_LOG" {
            continue;
        }
        let flag = command
            .get_arguments()
            .find(|argument| argument.get_env().is_some_and(|env| env == name))
            .and_then(|argument| argument.get_long())
            .ok_or_else(|| {
                Settings::command().error(
                    clap::error::ErrorKind::UnknownArgument,
                    format!("{name} is not a setting of this service"),
                )
            })?;
        arguments.push(format!("--{flag}={value}"));
    }
    Settings::try_parse_from(arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_read_as_durations() {
        assert_eq!(parse_milliseconds("0"), Ok(Duration::ZERO));
        assert_eq!(parse_milliseconds("250"), Ok(Duration::from_millis(250)));
        assert!(parse_milliseconds("1s").is_err());
    }

    #[test]
    fn positive_milliseconds_refuse_zero_and_what_kafka_cannot_take() {
        assert_eq!(
            parse_positive_milliseconds("10000"),
            Ok(Duration::from_secs(10))
        );
        assert!(parse_positive_milliseconds("0").is_err());
        assert!(parse_positive_milliseconds("4294967296").is_err());
    }
}
