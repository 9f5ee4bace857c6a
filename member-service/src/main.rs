use member_service::{Application, Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_process().unwrap_or_else(|error| error.exit());
    let telemetry = telemetry::init(config.log_format)?;
    let names = std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned());
    for name in Config::unrecognised_variables(names) {
        tracing::warn!("{name} is not a setting of member-service: ignored");
    }
    let application = Application::build(config).await?;
    tokio::spawn(telemetry::cancel_on_signal(application.shutdown_token()));
    let stopped = application.run_until_stopped().await;
    // The last requests' and publishes' spans are exported before the process ends.
    tokio::task::spawn_blocking(|| telemetry.shutdown()).await?;
    stopped
}
