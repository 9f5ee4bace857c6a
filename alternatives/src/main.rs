use alternatives::{Options, plot, report, run::run};
use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    // Logs to stderr, so that stdout holds only the table.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let plan = options.plan();
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&plan.output)
        .with_context(|| format!("cannot create {}", plan.output.display()))?;
    let backend = match (&plan.database_url, &plan.kafka_bootstrap_servers) {
        (Some(_), Some(_)) => "PostgreSQL + Kafka",
        (Some(_), None) => "PostgreSQL + embedded broker",
        (None, Some(_)) => "SQLite + Kafka",
        (None, None) => "SQLite + embedded broker",
    };
    let results = run(&plan).await?;
    report::write_csv(&results, &plan.output)?;
    plot::draw(&results, &plan, &plan.output.join("outage.png"))?;
    print!("{}", report::table(&results, &plan, backend));
    println!(
        "CSV and plot: {} (run took {:.0} s)",
        plan.output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
