//! `rnnlab data generate | check | show`: write, validate and read dataset files.

use super::UsageError;
use clap::{Args, Subcommand};
use rnnlab::tasks::{load_dataset, save_dataset, Dataset, Lang, Task, TaskKind, TaskSpec, Unit};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  rnnlab data generate --task tanaka --length 6 --count 100 --seed 1 --out tanaka6.ron\n  rnnlab data check tanaka6.ron\n  rnnlab data show --task tanaka --length 6 --lang en\n  rnnlab data show --task tanaka --unit char --lang en --length 40   # one character per step"
)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Generate sequences of a task from a seed and write them to a dataset file (RON).
    #[command(
        after_help = "Example:\n  rnnlab data generate --task copy --length 100 --count 1000 --seed 7 --out copy100.ron"
    )]
    Generate(GenerateArgs),
    /// Check a dataset file: its syntax, its task and every record.
    #[command(after_help = "Example:\n  rnnlab data check datasets/examples/recall.ron")]
    Check(CheckArgs),
    /// Print sequences as a person reads them: generated from a task, or read from a file.
    #[command(
        after_help = "Examples:\n  rnnlab data show --task tanaka --length 6 --lang en --count 3\n  rnnlab data show --task recall --length 2 --pairs 4\n  rnnlab data show --data datasets/examples/tanaka.ron"
    )]
    Show(ShowArgs),
    /// Write a dataset file as JSON, with the token and class vocabularies (for notebooks).
    #[command(
        after_help = "Example:\n  rnnlab data export datasets/examples/tanaka.ron --out tanaka.json\n  python3 -c \"import json; d = json.load(open('tanaka.json')); print(d['vocabulary']['classes'])\""
    )]
    Export(ExportArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// The dataset file (RON) to export.
    file: PathBuf,
    /// The JSON file to write (never an existing file, unless --force and rnnlab wrote it).
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it is a dataset file rnnlab wrote.
    #[arg(long)]
    force: bool,
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let ds = load_dataset(&args.file)?;
    check_replaceable_dataset(&args.out, args.force)?;
    let text = rnnlab::tasks::write_dataset_json(&ds.task, &ds.sequences)?;
    rnnlab::outdir::write_atomic(&args.out, text.as_bytes())?;
    outln!(
        "{} {} sequences → {}",
        ds.sequences.len(),
        ds.task.kind(),
        args.out.display()
    );
    Ok(())
}

/// The task options every command that takes a task shares.
#[derive(Args, Debug, Clone, Default)]
pub struct TaskArgs {
    /// The task: tanaka, copy, adding or recall.
    #[arg(long, value_parser = parse_task_kind)]
    pub task: Option<TaskKind>,
    /// Dependency length: tanaka filler phrases, copy T, adding sequence length, recall fillers.
    #[arg(long, allow_negative_numbers = true)]
    pub length: Option<usize>,
    /// tanaka: how many names are in play [default: 8].
    #[arg(long, allow_negative_numbers = true)]
    pub names: Option<usize>,
    /// tanaka: probability that a filler slot holds another name [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    pub distractor_names: Option<f64>,
    /// recall: how many key–value pairs [default: 4].
    #[arg(long, allow_negative_numbers = true)]
    pub pairs: Option<usize>,
    /// tanaka: one step per phrase (token) or per character (char); with char, --length counts
    /// the characters between the end of the name and the query [default: token].
    #[arg(long, value_parser = parse_unit)]
    pub unit: Option<Unit>,
    /// tanaka: the sentence's language, ja or en (with --unit char the task's text; otherwise
    /// the language it is printed in) [default: ja].
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<Lang>,
    /// tanaka char: add the characters of this text file to the vocabulary.
    #[arg(long, value_name = "FILE")]
    pub vocab_file: Option<PathBuf>,
    /// Override the solved threshold (eval accuracy; eval MSE for adding).
    #[arg(long, allow_negative_numbers = true)]
    pub solved: Option<f64>,
}

impl TaskArgs {
    /// The spec these options describe; `--task` and `--length` are required.
    pub fn spec(&self) -> anyhow::Result<TaskSpec> {
        let task = self.task.ok_or_else(|| {
            UsageError("--task is required (tanaka, copy, adding or recall)".into())
        })?;
        let length = self
            .length
            .ok_or_else(|| UsageError(format!("--length is required for --task {task}")))?;
        let characters = match &self.vocab_file {
            Some(path) => Some(rnnlab::tasks::read_vocabulary_file(path)?),
            None => None,
        };
        Ok(TaskSpec {
            task,
            length,
            names: self.names,
            distractor_names: self.distractor_names,
            pairs: self.pairs,
            unit: self.unit,
            // the language is a tanaka option; for the other tasks --lang only prints
            lang: self.lang.filter(|_| task == TaskKind::Tanaka),
            characters,
            solved: self.solved,
        })
    }

    /// Whether any task option was given (they conflict with `--data`).
    fn any(&self) -> bool {
        self.task.is_some()
            || self.length.is_some()
            || self.names.is_some()
            || self.distractor_names.is_some()
            || self.pairs.is_some()
            || self.unit.is_some()
            || self.vocab_file.is_some()
            || self.solved.is_some()
    }
}

/// A task given by options, or a dataset file (`--data`) that brings its own task and sequences.
/// Flatten this into every command that trains or evaluates on a task.
#[derive(Args, Debug, Clone)]
pub struct TaskOrDataArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Use the sequences of this dataset file (its task comes from the file) instead of generating.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Where a command's sequences come from.
pub enum TaskSource {
    /// Generate sequences of this task from a seed.
    Generated(Task),
    /// A fixed set read from a dataset file.
    File(Dataset),
}

impl TaskOrDataArgs {
    /// The checked task, or the loaded file; usage and file errors exit with code 2.
    pub fn source(&self) -> anyhow::Result<TaskSource> {
        match &self.data {
            Some(path) => {
                if self.task.any() {
                    return Err(UsageError(
                        "--data takes its task from the file; leave out --task and its options"
                            .into(),
                    )
                    .into());
                }
                Ok(TaskSource::File(load_dataset(path)?))
            }
            None => Ok(TaskSource::Generated(Task::new(self.task.spec()?)?)),
        }
    }
}

/// `data generate` writes a new file; it replaces an existing one only with `--force`, and only
/// a regular file that starts as every dataset rnnlab writes does, so no user's file is lost.
fn check_replaceable_dataset(out: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let refuse = |why: &str| -> anyhow::Result<()> {
        Err(UsageError(format!(
            "--out {}: {why}; nothing was written",
            out.display()
        ))
        .into())
    };
    let meta = match std::fs::symlink_metadata(out) {
        Err(_) => return Ok(()),
        Ok(meta) => meta,
    };
    if !meta.is_file() {
        return refuse("exists and is not a regular file");
    }
    if !force {
        return refuse(
            "already exists; give another --out, or --force to replace a dataset file rnnlab wrote",
        );
    }
    let mut head = [0u8; 128];
    let n = std::fs::File::open(out)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    if !text
        .lines()
        .take(2)
        .any(|l| l.starts_with("// rnnlab dataset:") || l.contains("\"rnnlab_dataset\":"))
    {
        return refuse("is not a dataset file rnnlab wrote; refusing to replace it");
    }
    Ok(())
}

fn parse_task_kind(s: &str) -> Result<TaskKind, String> {
    s.parse().map_err(|e: rnnlab::Error| e.to_string())
}

fn parse_unit(s: &str) -> Result<Unit, String> {
    s.parse().map_err(|e: rnnlab::Error| e.to_string())
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse().map_err(|e: rnnlab::Error| e.to_string())
}

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    task: TaskArgs,
    /// How many sequences.
    #[arg(long, allow_negative_numbers = true)]
    count: usize,
    /// Seed of the generator (ChaCha8): the same seed writes the same file.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// The dataset file to write (never an existing file, unless --force and it is an rnnlab dataset).
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it is a dataset file rnnlab wrote (any other file is never overwritten).
    #[arg(long)]
    force: bool,
    /// Refuse a dataset whose estimated memory is above SIZE (e.g. 4G, 512M, 2GiB or bytes)
    /// [default: half the physical memory].
    #[arg(long, value_name = "SIZE", value_parser = rnnlab::resources::parse_size)]
    max_memory: Option<u64>,
}

#[derive(Args)]
struct CheckArgs {
    /// The dataset file to check.
    file: PathBuf,
}

#[derive(Args)]
struct ShowArgs {
    #[command(flatten)]
    source: TaskOrDataArgs,
    /// Seed of the generator (ignored with --data).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// How many sequences to print [default: 5 generated, or the whole file].
    #[arg(long, allow_negative_numbers = true)]
    count: Option<usize>,
}

pub fn run(args: DataArgs) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Generate(args) => generate(args),
        DataCommand::Check(args) => check(args),
        DataCommand::Show(args) => show(args),
        DataCommand::Export(args) => export(args),
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    if args.count == 0 {
        return Err(UsageError(
            "--count must be at least 1: an empty dataset is not a dataset".into(),
        )
        .into());
    }
    check_replaceable_dataset(&args.out, args.force)?;
    let task = Task::new(args.task.spec()?)?;
    rnnlab::resources::estimate_dataset(&task, args.count)
        .check(rnnlab::resources::memory_limit(args.max_memory))?;
    let sequences = task.generate(args.count, args.seed);
    save_dataset(&args.out, &task, &sequences)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} {} sequences ({} steps, seed {}) to {}",
        sequences.len(),
        task.label(),
        task.steps(),
        args.seed,
        args.out.display()
    )
    .map_err(stdout_error)
}

/// A failed write to standard output (a full disk, a closed file): a runtime error, exit 1.
fn stdout_error(e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write to standard output: {e}")
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let Dataset { task, sequences } = load_dataset(&args.file)?;
    let baseline = task.baseline();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: ok, {} {} sequences of {} steps, input width {}, output width {}, probe step {}, baseline loss {:.4}",
        args.file.display(),
        sequences.len(),
        task.label(),
        task.steps(),
        task.input_width(),
        task.output_width(),
        task.probe_step(),
        baseline.loss
    )
    .map_err(stdout_error)
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    // --lang is the language tanaka prints in (with --data too: it is not the file's task)
    let lang = args.source.task.lang.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match args.source.source()? {
        TaskSource::File(Dataset { task, sequences }) => {
            let count = args.count.unwrap_or(sequences.len()).min(sequences.len());
            for seq in &sequences[..count] {
                writeln!(out, "{}", task.render(seq, lang)).map_err(stdout_error)?;
            }
        }
        TaskSource::Generated(task) => {
            // one sequence at a time, so any --count runs in constant memory; the same sequences
            // as `Task::generate(count, seed)`, which draws them from one generator in turn
            use ndarray_rand::rand::SeedableRng;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
            for _ in 0..args.count.unwrap_or(5) {
                for seq in task.generate_with(&mut rng, 1) {
                    writeln!(out, "{}", task.render(&seq, lang)).map_err(stdout_error)?;
                }
            }
        }
    }
    out.flush().map_err(stdout_error)
}
