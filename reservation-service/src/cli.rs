//! The command line: serving (the default), and the operator tools for parked events and for
//! rewinding the consumer group. Tools read the same settings (`DATABASE_URL`, `KAFKA_*`,
//! `CONSUMER_GROUP`) as the service they operate on.

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::{
    Application, Config, db,
    domain::ParkedStatus,
    operator::{
        dlq::{self, ReplayOutcome, Selection},
        rewind::{self, RewindTarget},
    },
    telemetry,
};

#[derive(Parser)]
#[command(
    name = "reservation-service",
    about = "Reservations API and member-event consumer, and tools for its parked events"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API and the member-event consumer (the default).
    Serve,
    /// Events the consumer parked because it could not process them.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Rewind the consumer group's offsets; the service re-applies from there when it starts
    /// (idempotently). Stop every instance of the group first.
    Rewind(RewindArguments),
}

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Parked events, oldest first.
    List {
        /// Also those already replayed or discarded.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// One parked event, with its payload and why it was parked.
    Show { id: Uuid },
    /// Apply parked events in their original order (per member); replaying twice has one effect.
    Replay(ReplaySelection),
    /// Give up on a parked event, saying why. The member's events behind it stay parked until
    /// replayed.
    Discard {
        id: Uuid,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct ReplaySelection {
    /// This event, after the same member's events parked before it.
    id: Option<Uuid>,
    /// Every parked event of this member.
    #[arg(long)]
    member: Option<Uuid>,
    /// Every parked event.
    #[arg(long)]
    all: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct RewindArguments {
    /// Rewind every partition to this offset (clamped to what the topic holds; 0 = the start).
    #[arg(long)]
    to_offset: Option<i64>,
    /// Rewind every partition to its first event at or after this time (RFC 3339).
    #[arg(long)]
    to_time: Option<DateTime<Utc>>,
}

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let telemetry = telemetry::init(config.log_format)?;
            let names = std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned());
            for name in Config::unrecognised_variables(names) {
                tracing::warn!("{name} is not a setting of reservation-service: ignored");
            }
            let application = Application::build(config).await?;
            tokio::spawn(telemetry::cancel_on_signal(application.shutdown_token()));
            let stopped = application.run_until_stopped().await;
            // The last batches' spans are exported before the process ends.
            tokio::task::spawn_blocking(|| telemetry.shutdown()).await?;
            stopped
        }
        Command::Dlq { command } => {
            telemetry::init_for_tools();
            dead_letters(&config, command).await
        }
        Command::Rewind(arguments) => {
            telemetry::init_for_tools();
            let target = match (arguments.to_offset, arguments.to_time) {
                (Some(offset), _) => RewindTarget::Offset(offset),
                (None, Some(time)) => RewindTarget::Time(time),
                (None, None) => anyhow::bail!("give --to-offset or --to-time"),
            };
            let group = config.consumer_group.clone();
            let rewound = tokio::task::spawn_blocking(move || {
                rewind::rewind(
                    &config.kafka_bootstrap_servers,
                    &config.kafka_security,
                    &config.consumer_group,
                    &config.member_events_topic,
                    target,
                )
            })
            .await??;
            for partition in rewound {
                println!(
                    "group {} partition {} rewound to offset {}",
                    group, partition.partition, partition.offset
                );
            }
            Ok(())
        }
    }
}

async fn dead_letters(config: &Config, command: DlqCommand) -> anyhow::Result<()> {
    let pool = db::connect_existing(&config.database_url, 1).await?;
    match command {
        DlqCommand::List { all, limit } => {
            let status = (!all).then_some(ParkedStatus::Parked);
            let mut connection = pool.acquire().await?;
            let events = db::parked_events::list(&mut connection, status, limit).await?;
            println!(
                "{:<36}  {:<9}  {:<36}  {:>9}  {:>8}  reason",
                "id", "status", "member", "position", "attempts"
            );
            for event in &events {
                println!(
                    "{:<36}  {:<9}  {:<36}  {:>9}  {:>8}  {}",
                    event.id,
                    event.status.as_str(),
                    event.member_id.as_deref().unwrap_or("-"),
                    format!("{}:{}", event.source_partition, event.source_offset),
                    event.attempts,
                    event.reason
                );
            }
            println!("{} event(s)", events.len());
        }
        DlqCommand::Show { id } => {
            let mut connection = pool.acquire().await?;
            let event = db::parked_events::find(&mut connection, id)
                .await?
                .ok_or(dlq::ToolError::NotFound(id))?;
            let mut shown = serde_json::to_value(&event)?;
            shown["message_key"] = text_of(event.message_key.as_deref());
            shown["payload"] = text_of(event.payload.as_deref());
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        DlqCommand::Replay(selection) => {
            let selection = match (selection.id, selection.member) {
                (Some(id), _) => Selection::One(id),
                (None, Some(member)) => Selection::Member(member),
                (None, None) => Selection::All,
            };
            let reports = dlq::replay(&pool, selection).await?;
            for report in &reports {
                println!(
                    "{}  member {}  {}:{}  {}{}",
                    report.id,
                    report.member_id.as_deref().unwrap_or("-"),
                    report.source_partition,
                    report.source_offset,
                    report.outcome.as_str(),
                    report
                        .detail
                        .as_deref()
                        .map(|detail| format!(" ({detail})"))
                        .unwrap_or_default()
                );
            }
            let still_parked = reports
                .iter()
                .filter(|report| report.outcome == ReplayOutcome::StillParked)
                .count();
            println!(
                "{} replayed, {still_parked} still parked",
                reports.len() - still_parked
            );
        }
        DlqCommand::Discard { id, reason } => {
            let event = dlq::discard(&pool, id, &reason).await?;
            println!("{} discarded: {}", event.id, reason);
            if let Some(member_id) = event.member_id {
                println!(
                    "events of member {member_id} parked behind it: dlq replay --member {member_id}"
                );
            }
        }
    }
    pool.close().await;
    Ok(())
}

/// Bytes as text when they are UTF-8 (as every valid event is), else as a list of bytes.
fn text_of(bytes: Option<&[u8]>) -> serde_json::Value {
    match bytes.map(std::str::from_utf8) {
        None => serde_json::Value::Null,
        Some(Ok(text)) => serde_json::Value::String(text.to_owned()),
        Some(Err(_)) => serde_json::json!(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("reservation-service").chain(arguments.iter().copied()))
    }

    #[test]
    fn the_group_is_rewound_by_rewind_and_replay_is_only_for_parked_events() {
        assert!(matches!(
            parse(&["rewind", "--to-offset", "0"]).map(|cli| cli.command),
            Ok(Some(Command::Rewind(RewindArguments {
                to_offset: Some(0),
                to_time: None
            })))
        ));
        assert!(parse(&["rewind", "--to-time", "2026-11-27T09:00:00Z"]).is_ok());
        assert!(parse(&["rewind"]).is_err());
        assert!(parse(&["replay", "--from-offset", "0"]).is_err());
        assert!(parse(&["dlq", "replay", "--all"]).is_ok());
    }
}
