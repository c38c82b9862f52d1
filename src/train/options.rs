//! Setting one training option by its command-line name (`cell`, `init-scale`, …) from text: what
//! a sweep grid varies. The names and meanings are those of `rnnlab train`'s flags.

use std::str::FromStr;

use super::config::{Precision, TrainConfig};
use crate::cells::{Activation, CellKind};
use crate::error::{Error, Result};
use crate::init::InitScheme;
use crate::optim::{Clip, OptimizerKind};
use crate::tasks::{TaskKind, TaskSpec};

/// Every option a sweep may vary.
pub const OPTION_NAMES: &[&str] = &[
    "task",
    "length",
    "names",
    "distractor-names",
    "pairs",
    "solved",
    "cell",
    "activation",
    "hidden",
    "layers",
    "widths",
    "residual",
    "layer-norm",
    "init",
    "init-scale",
    "recurrent-init",
    "recurrent-scale",
    "input-init",
    "input-scale",
    "bias-init",
    "forget-bias",
    "optimizer",
    "lr",
    "momentum",
    "clip",
    "clip-value",
    "batch",
    "steps",
    "bptt",
    "seed",
    "eval-every",
    "eval-size",
    "probe-every",
    "probe-size",
    "early-stop",
    "precision",
];

fn parse<T: FromStr>(name: &str, value: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e| Error::invalid(name, format!("'{value}': {e}")))
}

fn flag(name: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" | "on" | "yes" => Ok(true),
        "false" | "off" | "no" => Ok(false),
        other => Err(Error::invalid(
            name,
            format!("'{other}' is not true or false"),
        )),
    }
}

/// Sets option `name` of `config` to `value`, as the flag `--name value` would.
pub fn set_option(config: &mut TrainConfig, name: &str, value: &str) -> Result<()> {
    let m = &mut config.model;
    let init = &mut config.init;
    match name {
        "task" => {
            let task: TaskKind = parse(name, value)?;
            if task != config.task.task {
                config.task = TaskSpec::new(task, config.task.length);
            }
        }
        "length" => config.task.length = parse(name, value)?,
        "names" => config.task.names = Some(parse(name, value)?),
        "distractor-names" => config.task.distractor_names = Some(parse(name, value)?),
        "pairs" => config.task.pairs = Some(parse(name, value)?),
        "solved" => config.task.solved = Some(parse(name, value)?),
        "cell" => m.cell = parse::<CellKind>(name, value)?,
        "activation" => m.activation = parse::<Activation>(name, value)?,
        "hidden" => m.hidden = parse(name, value)?,
        "layers" => m.layers = parse(name, value)?,
        "widths" => {
            let widths = value
                .split(':')
                .map(|w| parse::<usize>(name, w))
                .collect::<Result<Vec<usize>>>()?;
            m.widths = Some(widths);
        }
        "residual" => m.residual = flag(name, value)?,
        "layer-norm" => m.layer_norm = flag(name, value)?,
        "init" => {
            let s: InitScheme = parse(name, value)?;
            init.input.scheme = s;
            init.recurrent.scheme = s;
            if s != InitScheme::Default {
                init.bias.scheme = InitScheme::Zeros;
            }
        }
        "init-scale" => {
            let x = parse(name, value)?;
            init.input.scale = x;
            init.recurrent.scale = x;
        }
        "recurrent-init" => init.recurrent.scheme = parse(name, value)?,
        "recurrent-scale" => init.recurrent.scale = parse(name, value)?,
        "input-init" => init.input.scheme = parse(name, value)?,
        "input-scale" => init.input.scale = parse(name, value)?,
        "bias-init" => init.bias.scheme = parse(name, value)?,
        "forget-bias" => init.forget_bias = parse(name, value)?,
        "optimizer" => config.optimizer.kind = parse::<OptimizerKind>(name, value)?,
        "lr" => config.optimizer.lr = parse(name, value)?,
        "momentum" => config.optimizer.momentum = parse(name, value)?,
        "clip" => {
            let c: f64 = parse(name, value)?;
            config.clip = if c == 0.0 { Clip::None } else { Clip::Norm(c) };
        }
        "clip-value" => config.clip = Clip::Value(parse(name, value)?),
        "batch" => config.batch = parse(name, value)?,
        "steps" => config.steps = parse(name, value)?,
        "bptt" => {
            let k: usize = parse(name, value)?;
            config.bptt = (k > 0).then_some(k);
        }
        "seed" => config.seed = parse(name, value)?,
        "eval-every" => config.eval_every = parse(name, value)?,
        "eval-size" => config.eval_size = parse(name, value)?,
        "probe-every" => config.probe_every = parse(name, value)?,
        "probe-size" => config.probe_size = parse(name, value)?,
        "early-stop" => config.stop_when_solved = flag(name, value)?,
        "precision" => config.precision = parse::<Precision>(name, value)?,
        other => {
            return Err(Error::invalid(
                other,
                format!(
                    "is not an option a sweep can vary (options: {})",
                    OPTION_NAMES.join(", ")
                ),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_option_can_be_set_and_unknown_ones_are_named() {
        let samples = [
            ("task", "copy"),
            ("length", "7"),
            ("names", "4"),
            ("distractor-names", "0.1"),
            ("pairs", "3"),
            ("solved", "0.9"),
            ("cell", "gru"),
            ("activation", "relu"),
            ("hidden", "5"),
            ("layers", "2"),
            ("widths", "8:4"),
            ("residual", "true"),
            ("layer-norm", "true"),
            ("init", "orthogonal"),
            ("init-scale", "0.5"),
            ("recurrent-init", "identity"),
            ("recurrent-scale", "1.2"),
            ("input-init", "xavier"),
            ("input-scale", "2"),
            ("bias-init", "zeros"),
            ("forget-bias", "0"),
            ("optimizer", "sgd"),
            ("lr", "0.1"),
            ("momentum", "0.9"),
            ("clip", "0"),
            ("clip-value", "1"),
            ("batch", "3"),
            ("steps", "9"),
            ("bptt", "4"),
            ("seed", "5"),
            ("eval-every", "2"),
            ("eval-size", "8"),
            ("probe-every", "0"),
            ("probe-size", "2"),
            ("early-stop", "false"),
            ("precision", "f64"),
        ];
        assert_eq!(samples.len(), OPTION_NAMES.len());
        for (name, value) in samples {
            let mut c = TrainConfig::default();
            set_option(&mut c, name, value).unwrap();
            assert_ne!(c, TrainConfig::default(), "{name} changed nothing");
        }
        let mut c = TrainConfig::default();
        let err = set_option(&mut c, "colour", "red").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        let err = set_option(&mut c, "cell", "cnn").unwrap_err().to_string();
        assert!(err.contains("cell") && err.contains("cnn"), "{err}");
    }
}
