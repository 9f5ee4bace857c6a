use anyhow::Context;
use bench::{Options, plots, run::run};
use clap::Parser;

fn main() -> anyhow::Result<()> {
    // A child started by the benchmark runs its service and nothing else.
    if let Some(outcome) = bench::child::serve_if_asked() {
        return outcome;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(benchmark(Options::parse()))
}

async fn benchmark(options: Options) -> anyhow::Result<()> {
    // Logs to stderr, so that stdout holds only the table and the summary line.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let report = run(&options).await?;
    std::fs::create_dir_all(&options.output)
        .with_context(|| format!("cannot create {}", options.output.display()))?;
    report.write_csv(&options.output)?;
    plots::draw(&report, &options.output)?;
    print!("{}", report.table());
    println!("CSV and plots: {}", options.output.display());
    println!("{}", report.summary_line());
    Ok(())
}
