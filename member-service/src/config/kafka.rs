//! How a service authenticates to Kafka and encrypts the connection: one set of settings, and the
//! one place that turns them into an rdkafka `ClientConfig`, which every client of the service
//! (producers, consumers, operator tools) starts from.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rdkafka::ClientConfig;
use secrecy::{ExposeSecret, SecretString};

use super::environment::parse_secret;

/// Kafka's `security.protocol`, spelt as Kafka spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SecurityProtocol {
    #[default]
    #[value(name = "PLAINTEXT")]
    Plaintext,
    #[value(name = "SSL")]
    Ssl,
    #[value(name = "SASL_PLAINTEXT")]
    SaslPlaintext,
    #[value(name = "SASL_SSL")]
    SaslSsl,
}

impl SecurityProtocol {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    pub const fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    pub const fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// Kafka's `sasl.mechanism`: the ones librdkafka supports with OpenSSL alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    #[default]
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// The password travels as it is: only over TLS (`SASL_SSL`).
    #[value(name = "PLAIN")]
    Plain,
}

impl SaslMechanism {
    pub const fn name(self) -> &'static str {
        match self {
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::Plain => "PLAIN",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KafkaSecurityError {
    #[error("KAFKA_SECURITY_PROTOCOL={0} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")]
    MissingCredentials(&'static str),
    #[error("KAFKA_SASL_MECHANISM=PLAIN sends the password in clear: use it with SASL_SSL only")]
    PlainWithoutTls,
    #[error(
        "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together (a client \
         certificate is its certificate and its key)"
    )]
    IncompleteClientCertificate,
    #[error("{0} is set but KAFKA_SECURITY_PROTOCOL={1} does not use it")]
    Unused(&'static str, &'static str),
}

/// Security settings of every Kafka client of the service. PLAINTEXT by default, for the local
/// stack; production sets SASL_SSL.
#[derive(Clone, Debug, Default, Args)]
pub struct KafkaSecurity {
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    #[arg(
        long,
        env = "KAFKA_SECURITY_PROTOCOL",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub kafka_security_protocol: SecurityProtocol,

    /// SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (SASL protocols only).
    #[arg(
        long,
        env = "KAFKA_SASL_MECHANISM",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub kafka_sasl_mechanism: SaslMechanism,

    #[arg(long, env = "KAFKA_SASL_USERNAME")]
    pub kafka_sasl_username: Option<String>,

    /// Secret: better from KAFKA_SASL_PASSWORD_FILE.
    #[arg(long, env = "KAFKA_SASL_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
    pub kafka_sasl_password: Option<SecretString>,

    /// PEM file of the certificate authorities that signed the brokers' certificates; the
    /// system's trust store when unset. Brokers' host names are always verified.
    #[arg(long, env = "KAFKA_SSL_CA_LOCATION")]
    pub kafka_ssl_ca_location: Option<PathBuf>,

    /// PEM client certificate, for brokers that authenticate clients by certificate (mTLS).
    #[arg(long, env = "KAFKA_SSL_CERTIFICATE_LOCATION")]
    pub kafka_ssl_certificate_location: Option<PathBuf>,

    /// PEM private key of the client certificate.
    #[arg(long, env = "KAFKA_SSL_KEY_LOCATION")]
    pub kafka_ssl_key_location: Option<PathBuf>,

    /// Secret: the passphrase of the client key, if it has one.
    #[arg(long, env = "KAFKA_SSL_KEY_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
    pub kafka_ssl_key_password: Option<SecretString>,
}

impl KafkaSecurity {
    /// Refuses settings that could not work, or would not do what they seem to: missing
    /// credentials, a password in clear, half a client certificate, TLS files without TLS.
    pub fn check(&self) -> Result<(), KafkaSecurityError> {
        let protocol = self.kafka_security_protocol;
        if protocol.uses_sasl() {
            if self.kafka_sasl_username.is_none() || self.kafka_sasl_password.is_none() {
                return Err(KafkaSecurityError::MissingCredentials(protocol.name()));
            }
            if self.kafka_sasl_mechanism == SaslMechanism::Plain && !protocol.uses_tls() {
                return Err(KafkaSecurityError::PlainWithoutTls);
            }
        } else if self.kafka_sasl_username.is_some() || self.kafka_sasl_password.is_some() {
            return Err(KafkaSecurityError::Unused(
                "KAFKA_SASL_USERNAME/PASSWORD",
                protocol.name(),
            ));
        }
        if self.kafka_ssl_certificate_location.is_some() != self.kafka_ssl_key_location.is_some() {
            return Err(KafkaSecurityError::IncompleteClientCertificate);
        }
        let tls_files =
            self.kafka_ssl_ca_location.is_some() || self.kafka_ssl_certificate_location.is_some();
        if tls_files && !protocol.uses_tls() {
            return Err(KafkaSecurityError::Unused("KAFKA_SSL_*", protocol.name()));
        }
        Ok(())
    }

    /// The configuration every client of the service starts from: the brokers and how to reach
    /// them. Callers add what is particular to their client.
    pub fn client_config(&self, bootstrap_servers: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap_servers)
            .set("security.protocol", self.kafka_security_protocol.name());
        if self.kafka_security_protocol.uses_sasl() {
            config.set("sasl.mechanism", self.kafka_sasl_mechanism.name());
            if let Some(username) = &self.kafka_sasl_username {
                config.set("sasl.username", username);
            }
            if let Some(password) = &self.kafka_sasl_password {
                config.set("sasl.password", password.expose_secret());
            }
        }
        if self.kafka_security_protocol.uses_tls() {
            // librdkafka's default, stated: a certificate for another host is refused.
            config.set("ssl.endpoint.identification.algorithm", "https");
            let files = [
                ("ssl.ca.location", &self.kafka_ssl_ca_location),
                (
                    "ssl.certificate.location",
                    &self.kafka_ssl_certificate_location,
                ),
                ("ssl.key.location", &self.kafka_ssl_key_location),
            ];
            for (key, path) in files {
                if let Some(path) = path {
                    config.set(key, path.to_string_lossy());
                }
            }
            if let Some(password) = &self.kafka_ssl_key_password {
                config.set("ssl.key.password", password.expose_secret());
            }
        }
        config
    }

    /// The flags (without `--`) that give a service these settings: how a supervisor (the
    /// tests, the local stack) hands them to a service it starts. Holds the secrets in clear.
    pub fn to_flags(&self) -> Vec<(&'static str, String)> {
        let path = |value: &Option<PathBuf>| {
            value
                .as_ref()
                .map(|path| path.to_string_lossy().into_owned())
        };
        let secret = |value: &Option<SecretString>| {
            value
                .as_ref()
                .map(|secret| secret.expose_secret().to_owned())
        };
        let optional = [
            ("kafka-sasl-username", self.kafka_sasl_username.clone()),
            ("kafka-sasl-password", secret(&self.kafka_sasl_password)),
            ("kafka-ssl-ca-location", path(&self.kafka_ssl_ca_location)),
            (
                "kafka-ssl-certificate-location",
                path(&self.kafka_ssl_certificate_location),
            ),
            ("kafka-ssl-key-location", path(&self.kafka_ssl_key_location)),
            (
                "kafka-ssl-key-password",
                secret(&self.kafka_ssl_key_password),
            ),
        ];
        let mut flags = vec![
            (
                "kafka-security-protocol",
                self.kafka_security_protocol.name().to_owned(),
            ),
            (
                "kafka-sasl-mechanism",
                self.kafka_sasl_mechanism.name().to_owned(),
            ),
        ];
        flags.extend(
            optional
                .into_iter()
                .filter_map(|(flag, value)| Some((flag, value?))),
        );
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sasl_ssl() -> KafkaSecurity {
        KafkaSecurity {
            kafka_security_protocol: SecurityProtocol::SaslSsl,
            kafka_sasl_username: Some("member-service".to_owned()),
            kafka_sasl_password: Some(SecretString::from("secret")),
            kafka_ssl_ca_location: Some(PathBuf::from("/etc/kafka/ca.pem")),
            ..KafkaSecurity::default()
        }
    }

    #[test]
    fn plaintext_is_the_default_and_sets_no_credentials() {
        let config = KafkaSecurity::default().client_config("broker:9092");
        assert_eq!(config.get("security.protocol"), Some("PLAINTEXT"));
        assert_eq!(config.get("sasl.password"), None);
        assert_eq!(KafkaSecurity::default().check(), Ok(()));
    }

    #[test]
    fn sasl_ssl_settings_reach_the_client_configuration() {
        let config = sasl_ssl().client_config("broker:9093");
        assert_eq!(config.get("bootstrap.servers"), Some("broker:9093"));
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("sasl.username"), Some("member-service"));
        assert_eq!(config.get("sasl.password"), Some("secret"));
        assert_eq!(config.get("ssl.ca.location"), Some("/etc/kafka/ca.pem"));
        assert_eq!(
            config.get("ssl.endpoint.identification.algorithm"),
            Some("https")
        );
        assert_eq!(sasl_ssl().check(), Ok(()));
    }

    #[test]
    fn incomplete_or_misleading_settings_are_refused() {
        let without_password = KafkaSecurity {
            kafka_sasl_password: None,
            ..sasl_ssl()
        };
        assert_eq!(
            without_password.check(),
            Err(KafkaSecurityError::MissingCredentials("SASL_SSL"))
        );
        let plain_in_clear = KafkaSecurity {
            kafka_security_protocol: SecurityProtocol::SaslPlaintext,
            kafka_sasl_mechanism: SaslMechanism::Plain,
            kafka_ssl_ca_location: None,
            ..sasl_ssl()
        };
        assert_eq!(
            plain_in_clear.check(),
            Err(KafkaSecurityError::PlainWithoutTls)
        );
        let half_a_certificate = KafkaSecurity {
            kafka_ssl_certificate_location: Some(PathBuf::from("client.pem")),
            ..sasl_ssl()
        };
        assert_eq!(
            half_a_certificate.check(),
            Err(KafkaSecurityError::IncompleteClientCertificate)
        );
        let credentials_without_sasl = KafkaSecurity {
            kafka_security_protocol: SecurityProtocol::Ssl,
            ..sasl_ssl()
        };
        assert!(credentials_without_sasl.check().is_err());
    }

    #[test]
    fn the_flags_of_settings_read_back_as_the_same_settings() {
        #[derive(clap::Parser)]
        struct Settings {
            #[command(flatten)]
            security: KafkaSecurity,
        }
        let flags = sasl_ssl().to_flags();
        let arguments = std::iter::once("service".to_owned()).chain(
            flags
                .iter()
                .map(|(flag, value)| format!("--{flag}={value}")),
        );
        let read = <Settings as clap::Parser>::try_parse_from(arguments).expect("valid flags");
        assert_eq!(
            read.security.client_config("broker:9093").config_map(),
            sasl_ssl().client_config("broker:9093").config_map()
        );
    }

    #[test]
    fn a_password_is_not_shown_when_the_settings_are_printed() {
        assert!(!format!("{:?}", sasl_ssl()).contains("secret"));
    }
}
