//! An experiment: fixed options (a partial training config) and a grid of varied options, expanded
//! into runs in a fixed order. What `experiment.ron` holds and what `--config FILE` reads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::cells::CellKind;
use crate::error::{Error, Result};
use crate::tasks::TaskKind;
use crate::train::config::ron_error;
use crate::train::options::{find_option, option_names, set_option};
use crate::train::TrainConfig;

/// The most runs one sweep holds: an experiment's grid is refused above it, counted from the
/// product of its axes before any run is built (as `--seeds` is).
pub const MAX_RUNS: u64 = 100_000;

/// One value in a grid, as RON writes it: `5`, `0.1`, `true` or `"lstm"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GridValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for GridValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GridValue::Bool(b) => write!(f, "{b}"),
            GridValue::Int(i) => write!(f, "{i}"),
            GridValue::Float(x) => write!(f, "{x}"),
            GridValue::Text(s) => f.write_str(s),
        }
    }
}

impl GridValue {
    /// The value as its option parses it, so that values with one meaning have one spelling:
    /// text that reads as a whole number, a finite number or a flag becomes that (`"0.10"` → 0.1,
    /// `"on"` → true), other text is trimmed and lower-cased (option names of schemes, cells and
    /// tasks are case-insensitive).
    pub fn canonical(&self) -> GridValue {
        match self {
            GridValue::Text(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    GridValue::Int(i)
                } else if is_whole_number(t) {
                    // a whole number outside i64's range stays as typed: as a float it would be
                    // rounded (18446744073709551615 → 18446744073709552000), and errors would
                    // name a value the user never gave
                    GridValue::Text(t.to_string())
                } else if let Some(x) = t.parse::<f64>().ok().filter(|x| x.is_finite()) {
                    GridValue::Float(x)
                } else {
                    match t.to_ascii_lowercase().as_str() {
                        "true" | "on" | "yes" => GridValue::Bool(true),
                        "false" | "off" | "no" => GridValue::Bool(false),
                        other => GridValue::Text(other.to_string()),
                    }
                }
            }
            GridValue::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
                GridValue::Int(*x as i64)
            }
            other => other.clone(),
        }
    }
}

/// Digits, with an optional leading sign.
fn is_whole_number(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The canonical spelling of an option value read back from a results file.
pub fn canonical_text(text: &str) -> String {
    GridValue::Text(text.to_string()).canonical().to_string()
}

/// The longest experiment or variant name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 100;

/// Checks a name that becomes part of a path: not empty, at most [`MAX_NAME_BYTES`], no path
/// separator, no control character, not `.` or `..`.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    let problem = if name.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "is {} bytes long; at most {MAX_NAME_BYTES}",
            name.len()
        ))
    } else if name.contains(['/', '\\']) {
        Some("must not hold a path separator (/ or \\)".into())
    } else if name.chars().any(char::is_control) {
        Some("must not hold control characters (line breaks, tabs, …)".into())
    } else if name == "." || name == ".." {
        Some("must not be . or ..".into())
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(field, format!("{name:?} {p}"))),
        None => Ok(()),
    }
}

/// A grid experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The options every run shares (any subset of a training config).
    #[serde(default)]
    pub base: TrainConfig,
    /// Option name (as `rnnlab train`'s flag, e.g. `init-scale`) → the values it takes.
    pub grid: BTreeMap<String, Vec<GridValue>>,
    /// Named sets of options that vary together, e.g. IRNN = relu + identity recurrence; they form
    /// one more axis, `variant`, crossed with the grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// Tuned options: option name → the candidate values. Each is one more axis of the grid (every
    /// run is kept), but `compare` reports each group at the value chosen on the validation set
    /// ([`crate::sweep::tuning::TUNING_RULE`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tune: BTreeMap<String, Vec<GridValue>>,
    /// A length search instead of a length axis (`--search-length`, [`super::search`]): the grid's
    /// `length` axis then holds the lengths the search has visited so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<super::search::LengthSearch>,
}

/// Options that cannot be tuned: the task and length are what a comparison spans, and the seed is
/// what the validation score averages over.
pub const UNTUNABLE: &[&str] = &["task", "length", "seed"];

/// A named set of option values applied together (before the grid's values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub set: BTreeMap<String, GridValue>,
}

/// The axis name of [`Experiment::variants`].
pub const VARIANT_AXIS: &str = "variant";

/// One run of the grid: its position, the values it varies and its resolved config.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub index: usize,
    /// (option, value) for every grid option, in [`Experiment::axes`] order.
    pub values: Vec<(String, String)>,
    pub config: TrainConfig,
}

impl RunSpec {
    /// `cell=lstm,length=20,seed=0`: the run's identity within its experiment.
    pub fn id(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The run's directory name under `runs/`: `cell-lstm_length-20_seed-0` (each value through
    /// [`file_safe`], so different values give different names).
    pub fn dir_name(&self) -> String {
        let parts: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}-{v}"))
            .collect();
        let name = file_safe(&parts, MAX_DIR_NAME_BYTES);
        if name.is_empty() {
            "run".into()
        } else {
            name
        }
    }
}

/// The longest run or sweep directory name rnnlab makes, in bytes (file systems allow 255).
pub const MAX_DIR_NAME_BYTES: usize = 200;

/// `parts` joined by `_` as a file name: in each part ASCII letters, digits, `-` and `.` stay and
/// every other byte (`_` too) is written `%XX`, so different lists give different names; a name
/// longer than `max_bytes` (at least 40) is cut and ends in a hash of the whole list.
pub fn file_safe<S: AsRef<str>>(parts: &[S], max_bytes: usize) -> String {
    let mut name = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            name.push('_');
        }
        for b in part.as_ref().bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                name.push(b as char);
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if name.len() > max_bytes.max(40) {
        // FNV-1a over the whole name: two cut names differ unless their hashes do
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let mut cut = max_bytes.max(40) - 17;
        // never cut inside a %XX escape
        while name[..cut].ends_with('%') || name[..cut - 1].ends_with('%') {
            cut -= 1;
        }
        name.truncate(cut);
        name.push_str(&format!("-{hash:016x}"));
    }
    name
}

/// One group of the built-in benchmark: a variant with its cell, another option it sets, and its
/// Adam learning rate.
#[derive(Debug, Clone, Copy)]
pub struct BenchmarkGroup {
    pub name: &'static str,
    pub cell: &'static str,
    /// (option, value) the group sets besides the cell and the learning rate.
    pub extra: Option<(&'static str, &'static str)>,
    pub lr: f64,
}

/// The built-in benchmark's groups. The learning rates are those
/// `datasets/experiments/tanaka-tuning.ron` chose from 0.001, 0.003, 0.01 and 0.03 (mean validation
/// accuracy over lengths 20, 50 and 100 and seeds 100 and 101, which the benchmark does not use;
/// docs/experiments/tanaka-tuning). Of the three LSTM remedies that tuned to a validation accuracy of
/// 1 (forget bias 3, no forget gate, chrono), chrono scored 1 at every learning rate and is the
/// one the benchmark carries; docs/experiments/tanaka-benchmark also has the 1997 cell's rows.
pub const BENCHMARK_GROUPS: &[BenchmarkGroup] = &[
    BenchmarkGroup {
        name: "rnn",
        cell: "rnn",
        extra: None,
        lr: 0.01,
    },
    BenchmarkGroup {
        name: "lstm",
        cell: "lstm",
        extra: None,
        lr: 0.003,
    },
    BenchmarkGroup {
        name: "lstm-chrono",
        cell: "lstm",
        extra: Some(("chrono", "auto")),
        lr: 0.001,
    },
    BenchmarkGroup {
        name: "gru",
        cell: "gru",
        extra: None,
        lr: 0.01,
    },
];

/// How the main job (`rnnlab sweep` with no lengths given) chooses the benchmark's lengths: the
/// length search from 5 to 200 filler phrases (doubling while a group solves in at least half its
/// seeds, then bisecting in log length to a 2^(1/4) bracket; [`super::search`]). 200 is the
/// longest maximum that keeps the main job within 5 minutes on 2 cores: above it the GRU's
/// bisection alone costs more. Where the chrono LSTM and the GRU break is the length-search
/// experiment's question (`datasets/experiments/tanaka-length-search.ron`, to 5,000). With
/// `--length`, `--shard` or `--slurm` the benchmark runs its grid ([`Experiment::tanaka_benchmark`]).
pub fn benchmark_search() -> super::search::LengthSearch {
    super::search::LengthSearch::new(5, 200)
}

impl Experiment {
    /// The built-in benchmark `rnnlab sweep` runs with no arguments: "who is Tanaka?" for a tanh
    /// RNN, PyTorch's LSTM, the LSTM with chrono initialisation and a GRU at lengths 5 to 200,
    /// five seeds each, up to 10,000 steps, each group at the learning rate the shipped tuning
    /// experiment chose for it on validation data ([`BENCHMARK_GROUPS`]).
    pub fn tanaka_benchmark() -> Experiment {
        let mut base = TrainConfig::default();
        base.task.task = TaskKind::Tanaka;
        base.model.hidden = 32;
        base.steps = 10_000;
        base.eval_every = 100;
        base.eval_size = 128;
        base.probe_every = 0;
        // no learning-over-time probes: the main job keeps its time and its files
        base.history_every = Some(0);
        base.probe_size = 16;
        base.optimizer.lr = 1e-2;
        let ints = |v: &[i64]| v.iter().map(|&i| GridValue::Int(i)).collect::<Vec<_>>();
        let text = |s: &str| GridValue::Text(s.to_string());
        let variants = BENCHMARK_GROUPS
            .iter()
            .map(|g| {
                let mut set = BTreeMap::from([
                    ("cell".to_string(), text(g.cell)),
                    ("lr".to_string(), GridValue::Float(g.lr)),
                ]);
                if let Some((option, value)) = g.extra {
                    set.insert(option.to_string(), text(value));
                }
                Variant {
                    name: g.name.to_string(),
                    set,
                }
            })
            .collect();
        Experiment {
            name: "tanaka-benchmark".into(),
            description: "Who is \"that guy\"? A tanh RNN, PyTorch's LSTM, the LSTM with chrono initialisation and a GRU recall the subject of a Tanaka sentence across 5 to 200 filler phrases (5 seeds each; each group at the Adam learning rate that docs/experiments/tanaka-tuning chose on validation data).".into(),
            base,
            grid: BTreeMap::from([
                ("length".to_string(), ints(&[5, 10, 20, 50, 100, 200])),
                ("seed".to_string(), ints(&[0, 1, 2, 3, 4])),
            ]),
            variants,
            tune: BTreeMap::new(),
            search: None,
        }
    }

    /// Keeps the variants whose `cell` is one of `cells` (canonical names), and adds a variant
    /// named after each listed cell that none sets, with the base recipe: `--benchmark --cell
    /// rnn,exprnn` runs the benchmark's tuned rnn and an exprnn at the base learning rate.
    pub fn select_cells(&mut self, cells: &[String]) -> Result<()> {
        let mut wanted = Vec::new();
        for c in cells {
            let cell: CellKind = c
                .parse()
                .map_err(|e: Error| Error::invalid("cell", e.to_string()))?;
            if !wanted.contains(&cell) {
                wanted.push(cell);
            }
        }
        let cell_of = |v: &Variant| {
            v.set
                .get("cell")
                .and_then(|c| c.canonical().to_string().parse::<CellKind>().ok())
        };
        self.variants
            .retain(|v| cell_of(v).is_some_and(|c| wanted.contains(&c)));
        for cell in wanted {
            if !self.variants.iter().any(|v| cell_of(v) == Some(cell)) {
                self.variants.push(Variant {
                    name: cell.to_string(),
                    set: BTreeMap::from([("cell".to_string(), GridValue::Text(cell.to_string()))]),
                });
            }
        }
        Ok(())
    }

    /// Drops `option` from every variant's settings, because a grid or tuned value of it replaces
    /// the per-group one; variants left with the same settings as an earlier one are dropped.
    pub fn unset_in_variants(&mut self, option: &str) {
        for v in &mut self.variants {
            v.set.remove(option);
        }
        let mut kept: Vec<Variant> = Vec::new();
        for v in std::mem::take(&mut self.variants) {
            if !kept.iter().any(|k| k.set == v.set) {
                kept.push(v);
            }
        }
        self.variants = kept;
    }

    /// Whether `self` and `other` make the same runs with the same results: equal but for the
    /// learning-over-time interval (`history_every`), which only measures and never changes a
    /// run. An `experiment.ron` written before that option existed reads it as auto, while the
    /// built-in benchmark turns it off; such a directory still resumes.
    pub fn same_runs_as(&self, other: &Experiment) -> bool {
        let strip = |e: &Experiment| {
            let mut e = e.clone();
            e.base.history_every = None;
            e
        };
        strip(self) == strip(other)
    }

    /// Whether `self` holds every run of `old` with the same options: equal but for the grid's
    /// values (and the name and description, which a grid given as flags spells out), each of
    /// `old`'s axes a subset of `self`'s (an extended sweep: more lengths, more seeds, another
    /// cell). Anything else that differs (base, variants, tuning, task, the axes
    /// themselves) makes another experiment.
    pub fn extends(&self, old: &Experiment) -> bool {
        let strip = |e: &Experiment| {
            let mut e = e.clone();
            e.base.history_every = None;
            e.grid.values_mut().for_each(Vec::clear);
            // a name made from the flags spells the grid's values
            e.name.clear();
            e.description.clear();
            e
        };
        strip(self) == strip(old)
            && old.grid.iter().all(|(axis, values)| {
                let mine: Vec<String> = self.axis_values(axis);
                values
                    .iter()
                    .all(|v| mine.contains(&v.canonical().to_string()))
            })
    }

    /// The smallest experiment that [`Experiment::extends`] both `self` and `other` (each axis:
    /// `self`'s values, then `other`'s new ones), or None when they differ in more than the
    /// grid's values.
    pub fn union(&self, other: &Experiment) -> Option<Experiment> {
        let mut u = self.clone();
        for (axis, values) in &other.grid {
            let mine = u.grid.get_mut(axis)?;
            for v in values {
                if !mine.iter().any(|m| m.canonical() == v.canonical()) {
                    mine.push(v.canonical());
                }
            }
        }
        (u.extends(self) && u.extends(other)).then_some(u)
    }

    pub fn load(path: &Path) -> Result<Experiment> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::bad_file(path, format!("cannot read: {e}")))?;
        let mut exp: Experiment = ron::from_str(&text).map_err(|e| ron_error(path, &text, &e))?;
        exp.normalize();
        exp.validate()
            .map_err(|e| Error::bad_file(path, e.to_string()))?;
        Ok(exp)
    }

    /// Writes every grid and variant value in its canonical spelling ([`GridValue::canonical`]).
    pub fn normalize(&mut self) {
        for values in self.grid.values_mut() {
            for v in values.iter_mut() {
                *v = v.canonical();
            }
        }
        for variant in &mut self.variants {
            for v in variant.set.values_mut() {
                *v = v.canonical();
            }
        }
        for values in self.tune.values_mut() {
            for v in values.iter_mut() {
                *v = v.canonical();
            }
        }
    }

    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .expect("an experiment always serialises")
    }

    /// Varied options in run order: `variant` (if any), then the grid's and the tuned ones in the
    /// order of [`crate::train::options::TRAIN_OPTIONS`] (task first, seed last).
    pub fn axes(&self) -> Vec<&str> {
        let variant = (!self.variants.is_empty()).then_some(VARIANT_AXIS);
        variant
            .into_iter()
            .chain(
                option_names().filter(|n| self.grid.contains_key(*n) || self.tune.contains_key(*n)),
            )
            .collect()
    }

    /// The tuned options, in [`crate::train::options::TRAIN_OPTIONS`] order.
    pub fn tuned_axes(&self) -> Vec<&str> {
        option_names()
            .filter(|n| self.tune.contains_key(*n))
            .collect()
    }

    /// The values of an axis of the grid or of `tune`, in their canonical spelling, as listed.
    pub fn axis_values(&self, axis: &str) -> Vec<String> {
        if axis == VARIANT_AXIS {
            return self.variants.iter().map(|v| v.name.clone()).collect();
        }
        self.grid
            .get(axis)
            .or_else(|| self.tune.get(axis))
            .map(|values| values.iter().map(|v| v.canonical().to_string()).collect())
            .unwrap_or_default()
    }

    /// Checks names, empty lists, values that mean the same, and every run's config; errors
    /// name the option. Every run gets its own id and run directory, or this is an error.
    pub fn validate(&self) -> Result<()> {
        check_name("name", &self.name)?;
        for (i, v) in self.variants.iter().enumerate() {
            check_name(&format!("variants[{i}].name"), &v.name)?;
            // results.csv is read back through canonical_text (trimmed, lower-cased), so two
            // names with one canonical spelling would be one variant there: a resume would skip
            // the second as done, compare would pool them
            let same = |w: &Variant| canonical_text(&w.name) == canonical_text(&v.name);
            if let Some(w) = self.variants[..i].iter().find(|w| same(w)) {
                return Err(Error::invalid(
                    format!("variants[{i}].name"),
                    if w.name == v.name {
                        format!("'{}' names two variants", v.name)
                    } else {
                        format!(
                            "'{}' and '{}' differ only in case or spacing, which results.csv does not keep apart; rename one",
                            w.name, v.name
                        )
                    },
                ));
            }
        }
        for name in self.tune.keys() {
            let field = format!("tune option '{name}'");
            if UNTUNABLE.contains(&name.as_str()) {
                return Err(Error::invalid(
                    field,
                    "cannot be tuned: task, length and seed are what a comparison spans and averages over",
                ));
            }
            if self.grid.contains_key(name) {
                return Err(Error::invalid(
                    field,
                    "is also in the grid; an option is either compared (grid) or tuned (tune)",
                ));
            }
            if let Some(v) = self.variants.iter().find(|v| v.set.contains_key(name)) {
                return Err(Error::invalid(
                    field,
                    format!("is also set by variant '{}'; a tuned option takes every value listed in tune", v.name),
                ));
            }
        }
        let lists = self
            .grid
            .iter()
            .map(|(name, values)| ("grid", name, values))
            .chain(
                self.tune
                    .iter()
                    .map(|(name, values)| ("tune", name, values)),
            );
        for (kind, name, values) in lists {
            if find_option(name).is_none() {
                return Err(Error::invalid(
                    format!("{kind} option '{name}'"),
                    format!(
                        "is not a training option (options: {})",
                        option_names().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if values.is_empty() {
                return Err(Error::invalid(
                    format!("{kind} option '{name}'"),
                    "has an empty list of values",
                ));
            }
            // two values that give the same configuration are the same run twice
            let mut meanings: Vec<(String, TrainConfig)> = Vec::new();
            for v in values {
                let text = v.canonical().to_string();
                let mut config = self.base.clone();
                set_option(&mut config, name, &text)?;
                if let Some((same, _)) = meanings.iter().find(|(_, c)| *c == config) {
                    return Err(Error::invalid(
                        format!("{kind} option '{name}'"),
                        if *same == text {
                            format!("lists {text} twice")
                        } else {
                            format!("lists {same} and {text}, which mean the same")
                        },
                    ));
                }
                meanings.push((text, config));
            }
        }
        // counted from the product of the axes before any run is built: a grid of 10^9 runs
        // would otherwise allocate them all first (and abort)
        let count = self.run_count();
        if count > u128::from(MAX_RUNS) {
            return Err(Error::invalid(
                "grid",
                format!(
                    "{count} runs; a sweep holds at most {MAX_RUNS} (split it into experiments)"
                ),
            ));
        }
        let runs = self.runs()?;
        let mut ids = std::collections::HashMap::new();
        let mut dirs = std::collections::HashMap::new();
        for run in &runs {
            if let Some(other) = ids.insert(run.id(), run.index) {
                return Err(Error::invalid(
                    "grid",
                    format!(
                        "runs {other} and {} have the same id {}",
                        run.index,
                        run.id()
                    ),
                ));
            }
            if let Some(other) = dirs.insert(run.dir_name(), run.index) {
                return Err(Error::invalid(
                    "grid",
                    format!(
                        "runs {other} and {} would share the run directory {}; rename a variant",
                        run.index,
                        run.dir_name()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// How many runs the grid multiplies out to (the product of its axes' lengths), without
    /// building them.
    pub fn run_count(&self) -> u128 {
        self.axes().iter().fold(1u128, |runs, axis| {
            let values = if *axis == VARIANT_AXIS {
                self.variants.len()
            } else {
                self.grid.get(*axis).map_or(1, Vec::len)
            };
            runs.saturating_mul(values as u128)
        })
    }

    /// The data files whose runs validate on a held-out part (tuned options on `data`), each
    /// once, checked to be large enough to split
    /// ([`crate::train::trainer::check_hold_out`]).
    ///
    /// Errors: [`Error::InvalidOption`] (field `data`) naming the first file too small to split,
    /// or one that cannot be read.
    pub fn check_hold_out(&self) -> Result<()> {
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        for run in self.runs()? {
            if let (Some(file), Some(_)) = (&run.config.data, run.config.hold_out_seed) {
                if !files.contains(file) {
                    files.push(file.clone());
                }
            }
        }
        for file in &files {
            crate::train::trainer::check_hold_out(file)?;
        }
        Ok(())
    }

    /// Every run of the grid, in order: the first axis varies slowest.
    pub fn runs(&self) -> Result<Vec<RunSpec>> {
        let axes = self.axes();
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for axis in &axes {
            let mut next = Vec::new();
            let values = self.axis_values(axis);
            for combo in &combos {
                for v in &values {
                    let mut c = combo.clone();
                    c.push((axis.to_string(), v.clone()));
                    next.push(c);
                }
            }
            combos = next;
        }
        combos
            .into_iter()
            .enumerate()
            .map(|(index, values)| {
                // every value the run sets, the variant's first, applied in the order of
                // TRAIN_OPTIONS as train's flags are (a stable sort: a grid value of an option a
                // variant sets comes after it)
                let mut settings: Vec<(usize, String, String, Option<&str>)> = Vec::new();
                let position = |option: &str| {
                    option_names()
                        .position(|n| n == option)
                        .unwrap_or(usize::MAX)
                };
                for (k, v) in &values {
                    if k == VARIANT_AXIS {
                        let variant = self
                            .variants
                            .iter()
                            .find(|x| &x.name == v)
                            .expect("variant names come from the list");
                        for (option, value) in &variant.set {
                            settings.push((
                                position(option),
                                option.clone(),
                                value.canonical().to_string(),
                                Some(&variant.name),
                            ));
                        }
                    } else {
                        settings.push((position(k), k.clone(), v.clone(), None));
                    }
                }
                settings.sort_by_key(|s| s.0);
                let mut config = self.base.clone();
                for (_, option, value, variant) in &settings {
                    set_option(&mut config, option, value).map_err(|e| match variant {
                        Some(name) => Error::invalid(format!("variant '{name}'"), e.to_string()),
                        None => e,
                    })?;
                }
                if !self.tune.is_empty() && config.data.is_some() && config.hold_out_seed.is_none()
                {
                    // tuned values are chosen on the user's data: a held-out part of the file
                    config.hold_out_seed = Some(crate::train::trainer::HOLD_OUT_SEED);
                }
                config.validate().map_err(|e| {
                    Error::invalid(format!("run {}", describe(&values)), e.to_string())
                })?;
                Ok(RunSpec {
                    index,
                    values,
                    config,
                })
            })
            .collect()
    }
}

fn describe(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `--shard I/N`: the I-th (0-based) of N disjoint slices of the grid (runs with index ≡ I mod N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn contains(&self, run: usize) -> bool {
        run % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || {
            Error::invalid(
                "shard",
                format!("'{s}' is not I/N with 0 ≤ I < N (e.g. 0/4)"),
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiments_differing_only_in_the_history_interval_make_the_same_runs() {
        let new = Experiment::tanaka_benchmark();
        assert_eq!(new.base.history_every, Some(0));
        // an experiment.ron written before history_every existed reads it as auto
        let mut old = new.clone();
        old.base.history_every = None;
        assert!(old.same_runs_as(&new) && new.same_runs_as(&old));
        let mut other = new.clone();
        other.base.optimizer.lr = 0.5;
        assert!(!other.same_runs_as(&new));
    }

    #[test]
    fn the_grid_expands_in_a_fixed_order_with_seed_last() {
        let exp = Experiment::tanaka_benchmark();
        let runs = exp.runs().unwrap();
        assert_eq!(runs.len(), 4 * 6 * 5);
        assert_eq!(runs[0].id(), "variant=rnn,length=5,seed=0");
        assert_eq!(runs[1].id(), "variant=rnn,length=5,seed=1");
        let last = runs.last().unwrap();
        assert_eq!(last.config.task.length, 200);
        assert_eq!(last.dir_name(), "variant-gru_length-200_seed-4");
        // each group at its own learning rate, the chrono LSTM with T_max from the task
        for g in BENCHMARK_GROUPS {
            let name = format!("variant={},", g.name);
            let run = runs.iter().find(|r| r.id().contains(&name)).unwrap();
            assert_eq!(run.config.optimizer.lr, g.lr, "{name}");
        }
        let chrono = runs
            .iter()
            .find(|r| r.id().contains("variant=lstm-chrono,"))
            .unwrap();
        assert_eq!(chrono.config.init.chrono, crate::init::Chrono::Auto);
        let text = exp.to_ron();
        assert_eq!(ron::from_str::<Experiment>(&text).unwrap(), exp);
    }

    #[test]
    fn selecting_cells_keeps_their_groups_and_adds_the_missing_ones() {
        let mut exp = Experiment::tanaka_benchmark();
        exp.select_cells(&["lstm".into(), "exprnn".into()]).unwrap();
        let names: Vec<&str> = exp.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["lstm", "lstm-chrono", "exprnn"]);
        assert!(exp
            .select_cells(&["elman".into()])
            .unwrap_err()
            .to_string()
            .contains("cell"));
        // a flag's value of an option replaces the groups' own; groups left alike merge
        let mut exp = Experiment::tanaka_benchmark();
        exp.unset_in_variants("lr");
        assert_eq!(exp.variants.len(), 4);
        assert!(exp.variants.iter().all(|v| !v.set.contains_key("lr")));
        exp.unset_in_variants("chrono");
        let names: Vec<&str> = exp.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["rnn", "lstm", "gru"]);
    }

    #[test]
    fn bad_grids_and_shards_are_named() {
        let mut exp = Experiment::tanaka_benchmark();
        exp.grid
            .insert("colour".into(), vec![GridValue::Text("red".into())]);
        assert!(exp.validate().unwrap_err().to_string().contains("colour"));
        let mut exp = Experiment::tanaka_benchmark();
        exp.grid.insert("lr".into(), vec![]);
        assert!(exp.validate().unwrap_err().to_string().contains("empty"));
        let mut exp = Experiment::tanaka_benchmark();
        exp.grid.insert("hidden".into(), vec![GridValue::Int(0)]);
        assert!(exp.validate().unwrap_err().to_string().contains("hidden"));
        assert!(
            "3/2".parse::<Shard>().is_err()
                && "1/0".parse::<Shard>().is_err()
                && "x".parse::<Shard>().is_err()
        );
        assert_eq!(
            "1/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
    }
}
