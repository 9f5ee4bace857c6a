//! `cargo run -p stack`: the embedded broker and both services in one process.

fn main() -> anyhow::Result<()> {
    stack::cli::main()
}
