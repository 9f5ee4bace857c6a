//! The `reservation-service` program, built into this crate so that its tests can start it as a
//! process of its own and `kill -9` it. Same `main` as `reservation-service/src/main.rs`.

use clap::Parser;
use reservation_service::cli::{self, Cli};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::run(Cli::parse()).await
}
