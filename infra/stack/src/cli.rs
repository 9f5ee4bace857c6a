//! The stack's command line. The binary is only `main` from here, so that the crash-recovery
//! tests can build and `kill -9` the very same program (`system-tests`' `stack-process`).

use std::{net::SocketAddr, path::PathBuf};

use crate::{
    EmbeddedBroker, create_topics,
    tail::TailSettings,
    tokens::{self, Holder},
    walkthrough::walkthrough,
};
use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use event_schema::{ConsumerGroup, Topic};
use member_service::auth::Scope;
use member_service::config::KafkaSecurity;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "stack",
    about = "Runs the embedded broker, member-service and reservation-service",
    after_help = SERVICE_SETTINGS
)]
struct Arguments {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where the broker's storage (a directory) and both services' SQLite files live.
    #[arg(long, default_value = "./.data", global = true)]
    data_dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:9092")]
    broker_address: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8081")]
    member_address: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8082")]
    reservation_address: SocketAddr,
}

/// The services read their usual environment variables here too.
const SERVICE_SETTINGS: &str = "\
Service settings:
  Both services read their usual environment variables (listed by `cargo run -p member-service
  -- --help` and `cargo run -p reservation-service -- --help`), for example:
    CONSUMER_MAX_IN_FLIGHT=64 KAFKA_SESSION_TIMEOUT_MS=6000 RUST_LOG=debug cargo run -p stack
  The stack sets these itself: the listen addresses and DATABASE_URL (from the options above),
  KAFKA_BOOTSTRAP_SERVERS (the embedded broker), KAFKA_IDEMPOTENCE=false and
  KAFKA_FETCH_WAIT_MAX_MS=5 (what the embedded broker needs), and AUTH_HS256_SECRET and
  AUTH_ISSUER (the development secret in the data directory, which `stack token` signs with).";

#[derive(Subcommand)]
enum Command {
    /// Tools for the member-events topic.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Print a bearer token the local run's services accept (signed with the data directory's
    /// development secret): `--staff`, `--member ID`, or `--subject` with `--scope`s.
    Token(TokenArguments),
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("holder").required(true).args(["staff", "member", "subject"])))]
struct TokenArguments {
    /// Every scope, acting for anyone.
    #[arg(long)]
    staff: bool,
    /// Acts for this member only: members:read/write and reservations:read/write.
    #[arg(long)]
    member: Option<uuid::Uuid>,
    /// Any subject, with the scopes given by `--scope`.
    #[arg(long, requires = "scope")]
    subject: Option<String>,
    /// members:read, members:write, reservations:read, reservations:write, operator or staff.
    #[arg(long, value_parser = parse_scope)]
    scope: Vec<Scope>,
    /// How long the token is valid, in hours.
    #[arg(long, default_value_t = 12)]
    hours: u64,
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
        format!("not a scope; one of {}", known.join(", "))
    })
}

fn print_token(data_dir: &std::path::Path, arguments: TokenArguments) -> anyhow::Result<()> {
    let holder = match (arguments.staff, arguments.member, arguments.subject) {
        (true, _, _) => Holder::Staff,
        (_, Some(member_id), _) => Holder::Member(member_id),
        (_, _, Some(subject)) => Holder::Custom {
            subject,
            scopes: arguments.scope,
        },
        _ => anyhow::bail!("say who the token is for: --staff, --member ID or --subject"),
    };
    let secret = tokens::development_secret(data_dir)?;
    let lifetime = std::time::Duration::from_secs(arguments.hours.saturating_mul(3600));
    println!("{}", tokens::mint(&secret, &holder, lifetime)?);
    Ok(())
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Follow the topic in a consumer group of its own and print every event.
    Tail {
        #[arg(
            long,
            env = "KAFKA_BOOTSTRAP_SERVERS",
            default_value = "127.0.0.1:9092"
        )]
        bootstrap_servers: String,
        #[command(flatten)]
        security: KafkaSecurity,
        #[arg(long, env = "MEMBER_EVENTS_TOPIC", default_value = Topic::MemberEvents.name())]
        topic: String,
        #[arg(long, default_value = ConsumerGroup::EventsTail.name())]
        group: String,
    },
}

/// Both services read the environment here: each would report the other's settings, so a name
/// is reported only when it carries either's prefix and neither reads it.
fn warn_about_unrecognised_variables() {
    let names: Vec<String> = std::env::vars_os()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    let mut candidates = member_service::Config::unrecognised_variables(names.clone());
    candidates.extend(reservation_service::Config::unrecognised_variables(names));
    candidates.sort();
    candidates.dedup();
    let read = |command: clap::Command, name: &str| {
        command
            .get_arguments()
            .any(|argument| argument.get_env().is_some_and(|env| env == name))
    };
    for name in candidates {
        if !read(member_service::Config::command(), &name)
            && !read(reservation_service::Config::command(), &name)
        {
            tracing::warn!("{name} is not a setting of either service: ignored");
        }
    }
}

/// Parses the command line and runs it to the end.
#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    match arguments.command {
        Some(Command::Token(token)) => return print_token(&arguments.data_dir, token),
        Some(Command::Events {
            command:
                EventsCommand::Tail {
                    bootstrap_servers,
                    security,
                    topic,
                    group,
                },
        }) => {
            init_logging();
            security.check()?;
            return tail(TailSettings {
                bootstrap_servers,
                security,
                topic,
                group,
                fetch_wait_max_ms: 5,
            })
            .await;
        }
        None => init_logging(),
    }
    warn_about_unrecognised_variables();
    std::fs::create_dir_all(&arguments.data_dir)
        .with_context(|| format!("cannot create {}", arguments.data_dir.display()))?;
    let data_dir = std::path::absolute(&arguments.data_dir)?;
    let secret = tokens::development_secret(&data_dir)?;

    let broker = EmbeddedBroker::start(arguments.broker_address, &data_dir.join("broker"))
        .await
        .context("cannot start the embedded broker")?;
    let bootstrap_servers = broker.bootstrap_servers();
    create_topics(
        &bootstrap_servers,
        &[
            (Topic::MemberEvents.name(), Topic::MemberEvents.partitions()),
            (
                Topic::MemberEventsDeadLetter.name(),
                Topic::MemberEventsDeadLetter.partitions(),
            ),
        ],
    )
    .await
    .context("cannot create topics")?;

    // One process, one metrics recorder: each service's /metrics shows its own part of it.
    reservation_service::metrics::share(member_service::metrics::install()?);
    let member = member_service::Application::build(member_service::Config::from_pairs(
        [
            ("listen-address", arguments.member_address.to_string()),
            (
                "database-url",
                format!("sqlite://{}", data_dir.join("members.db").display()),
            ),
            ("kafka-bootstrap-servers", bootstrap_servers.clone()),
            // tansu 0.6's idempotent-producer check fails after reconnects.
            ("kafka-idempotence", "false".to_owned()),
        ]
        .into_iter()
        .chain(tokens::service_settings(&secret)),
    )?)
    .await?;
    let reservation =
        reservation_service::Application::build(reservation_service::Config::from_pairs(
            [
                ("listen-address", arguments.reservation_address.to_string()),
                (
                    "database-url",
                    format!("sqlite://{}", data_dir.join("reservations.db").display()),
                ),
                ("kafka-bootstrap-servers", bootstrap_servers.clone()),
                // The embedded broker answers a fetch only when this runs out.
                ("kafka-fetch-wait-max-ms", "5".to_owned()),
                ("kafka-idempotence", "false".to_owned()),
            ]
            .into_iter()
            .chain(tokens::service_settings(&secret)),
        )?)
        .await?;

    let shutdown = CancellationToken::new();
    let member_url = format!("http://{}", arguments.member_address);
    let reservation_url = format!("http://{}", arguments.reservation_address);
    let member_shutdown = member.shutdown_token();
    let reservation_shutdown = reservation.shutdown_token();
    let member_task = tokio::spawn(member.run_until_stopped());
    let reservation_task = tokio::spawn(reservation.run_until_stopped());

    println!(
        "Kafka-compatible broker: {bootstrap_servers} (data in {})",
        data_dir.display()
    );
    let staff_token = tokens::mint(&secret, &Holder::Staff, tokens::DEFAULT_LIFETIME)?;
    let example_member = uuid::Uuid::now_v7();
    let member_token = tokens::mint(
        &secret,
        &Holder::Member(example_member),
        tokens::DEFAULT_LIFETIME,
    )?;
    println!(
        "Tokens (valid 12 h; signed with the development secret in {}; more with `cargo run -p stack -- token`):\n  \
         staff (every scope, any member): {staff_token}\n  \
         member {example_member} only:  {member_token}",
        data_dir.join(tokens::SECRET_FILE).display()
    );
    println!("{}", walkthrough(&member_url, &reservation_url));

    tokio::spawn(member_service::telemetry::cancel_on_signal(
        shutdown.clone(),
    ));
    shutdown.cancelled().await;
    member_shutdown.cancel();
    reservation_shutdown.cancel();
    member_task.await??;
    reservation_task.await??;
    broker.shutdown().await;
    println!("stopped");
    Ok(())
}

async fn tail(settings: TailSettings) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(member_service::telemetry::cancel_on_signal(
        shutdown.clone(),
    ));
    eprintln!(
        "following {} as group {} (Ctrl-C to stop)",
        settings.topic, settings.group
    );
    crate::tail::follow(&settings, shutdown, |event| println!("{event}")).await?;
    Ok(())
}

/// `RUST_LOG` filters; by default the embedded broker's own chatter is kept to warnings, and its
/// SlateDB storage's to errors: it warns about request options it does not implement
/// (`require_stable` on offset fetches, for transactions, which nothing here uses).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,tansu_broker=warn,tansu_storage=warn,tansu_storage::slate=error,slatedb=warn,\
             tansu_sans_io=warn,tansu_service=warn,tansu_schema=warn",
        )
    });
    tracing_subscriber::fmt().with_env_filter(filter).init();
}
