//! An experiment: fixed options (a partial training config) and a grid of varied options, expanded
//! into runs in a fixed order. What `experiment.ron` holds and what `--config FILE` reads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::tasks::TaskKind;
use crate::train::config::ron_error;
use crate::train::options::{set_option, OPTION_NAMES};
use crate::train::TrainConfig;

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
}

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

    /// The run's directory name under `runs/`: `cell-lstm_length-20_seed-0`.
    pub fn dir_name(&self) -> String {
        let name = file_safe(
            &self
                .values
                .iter()
                .map(|(k, v)| format!("{k}-{v}"))
                .collect::<Vec<_>>()
                .join("_"),
        );
        if name.is_empty() {
            "run".into()
        } else {
            name
        }
    }
}

/// `text` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by `_`, so it
/// can name a file or directory anywhere.
pub fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Experiment {
    /// The built-in benchmark `rnnlab sweep` runs with no arguments: "who is Tanaka?" for a tanh
    /// RNN, an LSTM and a GRU at lengths 5 to 200, three seeds each, up to 10,000 steps.
    pub fn tanaka_benchmark() -> Experiment {
        let mut base = TrainConfig::default();
        base.task.task = TaskKind::Tanaka;
        base.model.hidden = 32;
        base.steps = 10_000;
        base.eval_every = 100;
        base.eval_size = 128;
        base.probe_every = 0;
        base.probe_size = 16;
        base.optimizer.lr = 1e-2;
        let text = |v: &[&str]| {
            v.iter()
                .map(|s| GridValue::Text(s.to_string()))
                .collect::<Vec<_>>()
        };
        let ints = |v: &[i64]| v.iter().map(|&i| GridValue::Int(i)).collect::<Vec<_>>();
        Experiment {
            name: "tanaka-benchmark".into(),
            description: "Who is \"that guy\"? A tanh RNN, an LSTM and a GRU recall the subject of a Tanaka sentence across 5 to 200 filler phrases (3 seeds each).".into(),
            base,
            grid: BTreeMap::from([
                ("cell".to_string(), text(&["rnn", "lstm", "gru"])),
                ("length".to_string(), ints(&[5, 10, 20, 50, 100, 200])),
                ("seed".to_string(), ints(&[0, 1, 2])),
            ]),
            variants: Vec::new(),
        }
    }

    pub fn load(path: &Path) -> Result<Experiment> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::bad_file(path, format!("cannot read: {e}")))?;
        let exp: Experiment = ron::from_str(&text).map_err(|e| ron_error(path, &text, &e))?;
        exp.validate()
            .map_err(|e| Error::bad_file(path, e.to_string()))?;
        Ok(exp)
    }

    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .expect("an experiment always serialises")
    }

    /// Varied options in run order: `variant` (if any), then the grid's in the order of
    /// [`OPTION_NAMES`] (task first, seed last).
    pub fn axes(&self) -> Vec<&str> {
        let variant = (!self.variants.is_empty()).then_some(VARIANT_AXIS);
        variant
            .into_iter()
            .chain(
                OPTION_NAMES
                    .iter()
                    .copied()
                    .filter(|n| self.grid.contains_key(*n)),
            )
            .collect()
    }

    /// Checks names, empty lists and every run's config; errors name the option.
    pub fn validate(&self) -> Result<()> {
        for (i, v) in self.variants.iter().enumerate() {
            if v.name.trim().is_empty() || self.variants[..i].iter().any(|w| w.name == v.name) {
                return Err(Error::invalid(
                    "variants",
                    format!("variant {i} needs a name of its own, got '{}'", v.name),
                ));
            }
        }
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "an experiment needs a name"));
        }
        for (name, values) in &self.grid {
            if !OPTION_NAMES.contains(&name.as_str()) {
                return Err(Error::invalid(
                    format!("grid option '{name}'"),
                    format!(
                        "is not a training option (options: {})",
                        OPTION_NAMES.join(", ")
                    ),
                ));
            }
            if values.is_empty() {
                return Err(Error::invalid(
                    format!("grid option '{name}'"),
                    "has an empty list of values",
                ));
            }
            let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            if let Some((_, dup)) = texts
                .iter()
                .enumerate()
                .find(|(i, t)| texts[..*i].contains(t))
            {
                return Err(Error::invalid(
                    format!("grid option '{name}'"),
                    format!("lists {dup} twice"),
                ));
            }
        }
        self.runs().map(|_| ())
    }

    /// Every run of the grid, in order: the first axis varies slowest.
    pub fn runs(&self) -> Result<Vec<RunSpec>> {
        let axes = self.axes();
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for axis in &axes {
            let mut next = Vec::new();
            let values: Vec<String> = if *axis == VARIANT_AXIS {
                self.variants.iter().map(|v| v.name.clone()).collect()
            } else {
                self.grid[*axis].iter().map(|v| v.to_string()).collect()
            };
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
                let mut config = self.base.clone();
                for (k, v) in &values {
                    if k == VARIANT_AXIS {
                        let variant = self
                            .variants
                            .iter()
                            .find(|x| &x.name == v)
                            .expect("variant names come from the list");
                        for (option, value) in &variant.set {
                            set_option(&mut config, option, &value.to_string()).map_err(|e| {
                                Error::invalid(format!("variant '{}'", variant.name), e.to_string())
                            })?;
                        }
                    } else {
                        set_option(&mut config, k, v)?;
                    }
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
    fn the_grid_expands_in_a_fixed_order_with_seed_last() {
        let exp = Experiment::tanaka_benchmark();
        let runs = exp.runs().unwrap();
        assert_eq!(runs.len(), 54);
        assert_eq!(runs[0].id(), "length=5,cell=rnn,seed=0");
        assert_eq!(runs[1].id(), "length=5,cell=rnn,seed=1");
        assert_eq!(runs[53].config.task.length, 200);
        assert_eq!(runs[53].dir_name(), "length-200_cell-gru_seed-2");
        let text = exp.to_ron();
        assert_eq!(ron::from_str::<Experiment>(&text).unwrap(), exp);
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
