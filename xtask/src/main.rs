//! `cargo xtask <task>`: project chores that need more than one cargo command.
//!
//! - `bench [--peer-python PATH] [--setup-peer]`: runs our criterion benchmarks and, when
//!   the PyTorch peer environment exists, the peer script on the same machine in the same
//!   run, then prints times and ratios (ours / peer).
mod bench;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask bench [--peer-python PATH] [--setup-peer]");
            std::process::exit(2);
        }
    }
}
