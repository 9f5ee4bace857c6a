use reservation_service::{
    cli::{self, Cli},
    config::environment,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments: Cli = environment::from_process().unwrap_or_else(|error| error.exit());
    cli::run(arguments).await
}
