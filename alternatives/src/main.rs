use alternatives::{Options, plot, report, run::run};
use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    // The benchmark's harness runs the product's services and broker as children of this
    // binary (hidden first argument); such a child runs its service and nothing else.
    if let Some(outcome) = bench::child::serve_if_asked() {
        return outcome;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(compare(Options::parse()))
}

async fn compare(options: Options) -> anyhow::Result<()> {
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
    // The machine is shared (CI, other builds): its load beside the figures says how quiet it was.
    let load_before = load_average();
    let results = run(&plan).await?;
    report::write_csv(&results, &plan.output)?;
    plot::draw(&results, &plan, &plan.output.join("outage.png"))?;
    print!("{}", report::table(&results, &plan, backend));
    println!(
        "CSV and plot: {} (run took {:.0} s; load average {} before, {} after)",
        plan.output.display(),
        started.elapsed().as_secs_f64(),
        load_before,
        load_average(),
    );
    Ok(())
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".to_owned())
}
