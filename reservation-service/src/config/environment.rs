//! What both services' settings have in common: how a value is read (secrets, milliseconds), the
//! log format, and reading settings from a set of variables the way the binary would.
//!
//! Any setting's variable `NAME` may instead be given as `NAME_FILE`, the path of a file that
//! holds the value (how Docker and Kubernetes hand out secrets): a password then never sits in
//! the environment, where `/proc/<pid>/environ`, `docker inspect` and crash reports show it.

use std::{ffi::OsString, path::Path, time::Duration};

use clap::{Command, CommandFactory, Parser, ValueEnum};
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

/// The suffix of a variable that names a file holding a setting's value.
const FILE_SUFFIX: &str = "_FILE";

/// Reads the settings as the binary does: flags, variables, and `NAME_FILE` for any setting's
/// `NAME`.
pub fn from_process<Settings: Parser>() -> Result<Settings, clap::Error> {
    let variables: Vec<(String, String)> = std::env::vars_os()
        .map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let command = Settings::command();
    let from_files = file_arguments(&command, &variables, |path| std::fs::read_to_string(path))?;
    // Right after the program name: the settings come before any subcommand.
    let mut arguments = std::env::args_os();
    let program = arguments.next().unwrap_or_default();
    Settings::try_parse_from(
        std::iter::once(program)
            .chain(from_files.into_iter().map(OsString::from))
            .chain(arguments),
    )
}

/// The flags that carry the values of the `NAME_FILE` variables among `variables`, each read
/// with `read` (a trailing line break dropped). Refuses `NAME` and `NAME_FILE` both set, and a
/// file that cannot be read (naming the file, never its content).
fn file_arguments(
    command: &Command,
    variables: &[(String, String)],
    read: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Vec<String>, clap::Error> {
    let mut arguments = Vec::new();
    for (name, path) in variables {
        let Some(setting) = name.strip_suffix(FILE_SUFFIX) else {
            continue;
        };
        // A setting may itself end in _FILE (a path); that variable is the setting, not this.
        if flag_of(command, name).is_some() {
            continue;
        }
        let Some(flag) = flag_of(command, setting) else {
            continue;
        };
        let refuse = |message: String| {
            command
                .clone()
                .error(clap::error::ErrorKind::ValueValidation, message)
        };
        if variables.iter().any(|(other, _)| other == setting) {
            return Err(refuse(format!("set {setting} or {name}, not both")));
        }
        let value = read(Path::new(path))
            .map_err(|error| refuse(format!("{name}: cannot read {path}: {error}")))?;
        let value = value
            .strip_suffix('\n')
            .map(|value| value.strip_suffix('\r').unwrap_or(value))
            .unwrap_or(&value);
        arguments.push(format!("--{flag}={value}"));
    }
    Ok(arguments)
}

/// The long flag of the setting read from variable `name`.
fn flag_of<'command>(command: &'command Command, name: &str) -> Option<&'command str> {
    command
        .get_arguments()
        .find(|argument| argument.get_env().is_some_and(|env| env == name))
        .and_then(|argument| argument.get_long())
}

/// Words in a variable's name that mark its value as a secret.
const SECRET_WORDS: &[&str] = &["PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "DATABASE_URL"];

/// The variables of `Settings` whose names say they hold a secret but whose values `--help`
/// would print (clap shows a set variable's value unless `hide_env_values`).
pub fn secrets_shown_in_help<Settings: CommandFactory>() -> Vec<String> {
    Settings::command()
        .get_arguments()
        .filter(|argument| !argument.is_hide_env_values_set())
        .filter_map(|argument| argument.get_env()?.to_str().map(str::to_owned))
        .filter(|name| SECRET_WORDS.iter().any(|word| name.contains(word)))
        .collect()
}

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
            let setting = name.strip_suffix(FILE_SUFFIX).unwrap_or(name);
            prefixes.iter().any(|prefix| name.starts_with(prefix))
                && !settings.contains(&name.as_str())
                && !settings.contains(&setting)
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
/// touching the process environment, `NAME_FILE` files read from disk. Names that are not
/// settings are an error, except `RUST_LOG` and `OTEL_*` (read by the logging and tracing
/// libraries themselves).
pub fn from_environment<'a, Settings: Parser>(
    variables: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Settings, clap::Error> {
    from_environment_reading(variables, |path| std::fs::read_to_string(path))
}

/// As `from_environment`, with `NAME_FILE` files read by `read`: how a deployment file whose
/// secrets are mounted only at run time is checked.
pub fn from_environment_reading<'a, Settings: Parser>(
    variables: impl IntoIterator<Item = (&'a str, &'a str)>,
    read: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Settings, clap::Error> {
    let command = Settings::command();
    let variables: Vec<(String, String)> = variables
        .into_iter()
        .filter(|(name, _)| *name != "RUST_LOG" && !name.starts_with("OTEL_"))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let mut arguments = vec![command.get_name().to_owned()];
    for (name, value) in &variables {
        if let Some(flag) = flag_of(&command, name) {
            arguments.push(format!("--{flag}={value}"));
            continue;
        }
        let names_a_file_of_a_setting = name
            .strip_suffix(FILE_SUFFIX)
            .is_some_and(|setting| flag_of(&command, setting).is_some());
        if !names_a_file_of_a_setting {
            return Err(command.clone().error(
                clap::error::ErrorKind::UnknownArgument,
                format!("{name} is not a setting of this service"),
            ));
        }
    }
    arguments.extend(file_arguments(&command, &variables, read)?);
    Settings::try_parse_from(arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    #[command(name = "example")]
    struct Example {
        #[arg(long, env = "EXAMPLE_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
        password: Option<SecretString>,
        #[arg(long, env = "EXAMPLE_KEY_FILE")]
        key_file: Option<String>,
    }

    fn read_secret(path: &Path) -> std::io::Result<String> {
        match path.to_str() {
            Some("/run/secrets/password") => Ok("from a file\n".to_owned()),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        }
    }

    #[test]
    fn any_setting_can_be_read_from_the_file_its_file_variable_names() {
        use secrecy::ExposeSecret;
        let settings: Example = from_environment_reading(
            [("EXAMPLE_PASSWORD_FILE", "/run/secrets/password")],
            read_secret,
        )
        .expect("read from the file");
        let password = settings.password.expect("password set");
        assert_eq!(password.expose_secret(), "from a file");
    }

    #[test]
    fn a_setting_ending_in_file_is_that_setting_not_a_file_to_read() {
        let settings: Example =
            from_environment_reading([("EXAMPLE_KEY_FILE", "/etc/key.pem")], read_secret)
                .expect("a plain setting");
        assert_eq!(settings.key_file.as_deref(), Some("/etc/key.pem"));
    }

    #[test]
    fn a_value_and_its_file_together_or_an_unreadable_file_are_refused() {
        let both = from_environment_reading::<Example>(
            [
                ("EXAMPLE_PASSWORD", "inline"),
                ("EXAMPLE_PASSWORD_FILE", "/run/secrets/password"),
            ],
            read_secret,
        );
        assert!(both.expect_err("both set").to_string().contains("not both"));
        let missing = from_environment_reading::<Example>(
            [("EXAMPLE_PASSWORD_FILE", "/run/secrets/absent")],
            read_secret,
        );
        assert!(
            missing
                .expect_err("unreadable")
                .to_string()
                .contains("cannot read /run/secrets/absent")
        );
    }

    #[test]
    fn file_variables_of_settings_are_recognised() {
        let names = ["EXAMPLE_PASSWORD_FILE", "EXAMPLE_PASWORD_FILE"].map(String::from);
        assert_eq!(
            unrecognised_variables::<Example>(names),
            ["EXAMPLE_PASWORD_FILE"]
        );
    }

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
