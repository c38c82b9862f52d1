//! Subcommands, one file each. Exit codes: 0 success, 2 usage or input error, 1 runtime failure.

/// `println!` that returns an error (exit 1, one line) instead of panicking when standard output
/// cannot be written (a full disk, `> /dev/full`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::StdoutError)?
    }};
}

/// `print!` with the error of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::StdoutError)?
    }};
}

mod bench;
mod data;
mod eval;
mod gradcheck;
mod gradients;
mod report_text;
mod slurm;
mod status;
mod sweep;
mod train;
mod watch;

use clap::{CommandFactory, Parser, Subcommand};
use std::io::Write;

#[derive(Parser)]
#[command(
    name = "rnnlab",
    version,
    about = "Why do recurrent networks forget? Train RNN, LSTM and GRU cells and measure it.",
    after_help = "Examples:\n  rnnlab gradcheck --cell lstm\n  rnnlab data show --task tanaka --length 6 --lang en\n  rnnlab bench --cells lstm --hidden 64,128"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every backward pass against finite differences in f64.
    Gradcheck(gradcheck::GradcheckArgs),
    /// Train a cell on a task and report how the gradient decays with distance.
    Train(train::TrainArgs),
    /// Run a grid of training runs in parallel and compare the cells (the main job).
    Sweep(sweep::SweepArgs),
    /// Combine sweep directories (shards) of one experiment.
    Merge(sweep::MergeArgs),
    /// Tables, critical lengths, plots and report.md of a sweep directory.
    Compare(sweep::CompareArgs),
    /// Where a sweep submitted with `sweep --slurm` is: runs done per shard, the queue, the ETA.
    Status(status::StatusArgs),
    /// The gradient-versus-distance report without training (at initialisation or for a saved model).
    Gradients(gradients::GradientsArgs),
    /// Evaluate a saved model on new data or at other lengths (length generalisation).
    Eval(eval::EvalArgs),
    /// Generate, check and show dataset files of the synthetic tasks.
    Data(data::DataArgs),
    /// Measure training throughput on the PyTorch peer benchmark's workload.
    Bench(bench::BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  rnnlab completions bash > ~/.local/share/bash-completion/completions/rnnlab\n  rnnlab completions zsh > ~/.zfunc/_rnnlab"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of rnnlab or of one subcommand.
    #[command(
        after_help = "Examples:\n  rnnlab man | man -l -\n  rnnlab man train > rnnlab-train.1"
    )]
    Man {
        /// A subcommand [default: the top-level page].
        subcommand: Option<String>,
    },
}

/// Standard output could not be written: a runtime failure (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutError(pub std::io::Error);

/// An error the user caused (bad option, bad file): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `--threads N` of a single run (train, gradients, eval, bench).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ThreadsArg {
    /// Threads for the run's arithmetic (the batch is split across them; results are identical
    /// bit for bit whatever N) [default: the number of cores].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

impl ThreadsArg {
    /// The thread count asked for (the number of cores when not given); refuses 0.
    pub fn resolve(&self) -> Result<usize, UsageError> {
        match self.threads {
            Some(0) => Err(UsageError("--threads: must be at least 1".into())),
            Some(n) => Ok(n),
            None => Ok(rnnlab::parallel::cores()),
        }
    }

    /// Resolves and sets the thread count of this (the main) thread's runs.
    pub fn apply(&self) -> Result<usize, UsageError> {
        let n = self.resolve()?;
        rnnlab::parallel::set_threads(n);
        Ok(n)
    }
}

/// A run that completed but whose result is a failure (e.g. a gradient check above tolerance).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

pub fn run() -> anyhow::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            return Err(UsageError(one_line(&e.to_string())).into());
        }
    };
    match cli.command {
        Command::Gradcheck(args) => gradcheck::run(args),
        Command::Train(args) => train::run(args),
        Command::Gradients(args) => gradients::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Compare(args) => sweep::compare(args),
        Command::Status(args) => status::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Data(args) => data::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rnnlab", &mut out);
            std::io::stdout().write_all(&out).map_err(StdoutError)?;
            Ok(())
        }
        Command::Man { subcommand } => {
            let mut cmd = Cli::command();
            cmd.build();
            let page = match &subcommand {
                None => cmd,
                Some(name) => cmd
                    .find_subcommand(name)
                    .cloned()
                    .map(|c| c.bin_name(format!("rnnlab {name}")))
                    .ok_or_else(|| UsageError(format!("man: no subcommand '{name}'")))?,
            };
            let mut out = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut out)
                .map_err(StdoutError)?;
            std::io::stdout().write_all(&out).map_err(StdoutError)?;
            Ok(())
        }
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

/// Clap's message up to its first blank line, with its "tip:" suggestions ("a similar argument
/// exists: '--hidden'"), on one line and without its "error: " prefix.
fn one_line(message: &str) -> String {
    let mut text: Vec<&str> = message
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    text.extend(
        message
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("tip:")),
    );
    let text = text.join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_string()
}

/// The error and its causes on one line, leaving out a cause whose text the line already holds
/// (an I/O error both names its file and carries the OS error as its source).
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}
