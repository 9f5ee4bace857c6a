//! The `stack` program, built into this crate so that its tests can start it as a process of
//! its own and `kill -9` it (`tests/crash_recovery.rs`). Same `main` as `infra/stack`.

fn main() -> anyhow::Result<()> {
    stack::cli::main()
}
