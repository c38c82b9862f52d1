//! Subcommands, one file each. Exit codes: 0 success, 2 usage or input error, 1 runtime failure.

use clap::{Parser, Subcommand};

mod data;

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Why do recurrent networks forget? Measure it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate, check and show dataset files of the synthetic tasks.
    Data(data::DataArgs),
}

/// An error the user caused (bad option, bad file): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Data(args) => data::run(args),
    }
}

/// 2 for input errors (a library input error or a [`UsageError`] anywhere in the chain), else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<rnnlab::Error>() {
            return if e.is_input_error() { 2 } else { 1 };
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
    }
    1
}
