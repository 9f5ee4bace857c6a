use clap::Parser;
use reservation_service::{Application, Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(config.log_format);
    let application = Application::build(config).await?;
    tokio::spawn(telemetry::cancel_on_signal(application.shutdown_token()));
    application.run_until_stopped().await
}
