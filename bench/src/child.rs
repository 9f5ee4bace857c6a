//! This binary's side when the benchmark starts it as a child: the children are this binary
//! started again with a hidden first argument (`serve-member`, `serve-reservation`,
//! `serve-broker`), running the same calls as the shipped `member-service` and
//! `reservation-service` mains. No other package's binary is needed, which `cargo run -p bench`
//! would not build.

use std::{net::SocketAddr, path::PathBuf};

pub const SERVE_MEMBER: &str = "serve-member";
pub const SERVE_RESERVATION: &str = "serve-reservation";
pub const SERVE_BROKER: &str = "serve-broker";

/// Runs the child's job when this process was started as one, and returns `None` otherwise.
pub fn serve_if_asked() -> Option<anyhow::Result<()>> {
    let mut arguments = std::env::args();
    let program = arguments.next().unwrap_or_default();
    let role = arguments.next()?;
    let rest: Vec<String> = std::iter::once(program).chain(arguments).collect();
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
    };
    let outcome = match role.as_str() {
        SERVE_MEMBER => runtime().and_then(|runtime| runtime.block_on(serve_member(rest))),
        SERVE_RESERVATION => runtime().and_then(|runtime| {
            use clap::Parser;
            runtime.block_on(reservation_service::cli::run(
                reservation_service::cli::Cli::parse_from(rest),
            ))
        }),
        SERVE_BROKER => runtime().and_then(|runtime| runtime.block_on(serve_broker(rest))),
        _ => return None,
    };
    Some(outcome)
}

/// member-service's `main`, line for line.
async fn serve_member(arguments: Vec<String>) -> anyhow::Result<()> {
    use clap::Parser;
    let config = member_service::Config::parse_from(arguments);
    let telemetry = member_service::telemetry::init(config.log_format)?;
    let application = member_service::Application::build(config).await?;
    tokio::spawn(member_service::telemetry::cancel_on_signal(
        application.shutdown_token(),
    ));
    let stopped = application.run_until_stopped().await;
    tokio::task::spawn_blocking(|| telemetry.shutdown()).await?;
    stopped
}

/// The embedded broker (`<program> <address> <storage directory>`) until SIGTERM.
async fn serve_broker(arguments: Vec<String>) -> anyhow::Result<()> {
    let address: SocketAddr = arguments
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("serve-broker needs an address"))?
        .parse()?;
    let storage = PathBuf::from(
        arguments
            .get(2)
            .ok_or_else(|| anyhow::anyhow!("serve-broker needs a storage directory"))?,
    );
    let mut broker = stack::EmbeddedBroker::start(address, &storage).await?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    broker.close().await;
    Ok(())
}
