//! The architecture of a network: what `model.ron` holds. Validated once, before any array exists.

use serde::{Deserialize, Serialize};

use crate::cells::{Activation, CellConfig, CellKind};
use crate::error::{Error, Result};

pub use crate::batch::{InputKind, OutputKind};

/// Architecture of a stacked recurrent network with a linear readout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub cell: CellKind,
    /// φ of the vanilla RNN; ignored by LSTM and GRU. Default tanh.
    #[serde(default = "default_activation")]
    pub activation: Activation,
    pub input: InputKind,
    /// Hidden width of each layer, bottom first; the number of entries is the number of layers.
    pub hidden: Vec<usize>,
    pub output: OutputKind,
    /// Layer l ≥ 1 passes up `h^l_t + y^{l−1}_t` instead of `h^l_t` (needs equal widths).
    #[serde(default)]
    pub residual: bool,
    /// Vanilla RNN only: `h_t = φ(LN(a_t))` with learned gain and bias per unit.
    #[serde(default)]
    pub layer_norm: bool,
    /// LSTM only: false removes the forget gate (f ≡ 1, the constant error carousel of Hochreiter
    /// & Schmidhuber 1997). Written only when false.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub forget_gate: bool,
}

fn yes() -> bool {
    true
}

/// For `skip_serializing_if`: options that are written only when switched off.
pub(crate) fn is_true(b: &bool) -> bool {
    *b
}

fn default_activation() -> Activation {
    Activation::Tanh
}

impl ModelSpec {
    /// A spec with `layers` layers of width `hidden`, no residual connections, no layer norm.
    pub fn new(
        cell: CellKind,
        input: InputKind,
        hidden: usize,
        layers: usize,
        output: OutputKind,
    ) -> Self {
        ModelSpec {
            cell,
            activation: Activation::Tanh,
            input,
            hidden: vec![hidden; layers],
            output,
            residual: false,
            layer_norm: false,
            forget_gate: true,
        }
    }

    /// The options the cell is built from.
    pub fn cell_config(&self) -> CellConfig {
        CellConfig {
            activation: self.activation,
            layer_norm: self.layer_norm,
            forget_gate: self.forget_gate,
        }
    }

    pub fn layers(&self) -> usize {
        self.hidden.len()
    }

    /// Width of layer `l`'s input: the input width for layer 0, else the width of layer l − 1.
    pub fn layer_input_width(&self, l: usize) -> usize {
        if l == 0 {
            self.input.width()
        } else {
            self.hidden[l - 1]
        }
    }

    /// Width of the top layer's output (what the readout reads).
    pub fn top_width(&self) -> usize {
        self.hidden.last().copied().unwrap_or(0)
    }

    /// Checks every field once; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.hidden.is_empty() {
            return Err(Error::invalid("layers", "must be at least 1"));
        }
        if let Some(l) = self.hidden.iter().position(|&h| h == 0) {
            return Err(Error::invalid(
                "hidden",
                format!("layer {l} has width 0; widths must be at least 1"),
            ));
        }
        match self.input {
            InputKind::Tokens { vocab: 0 } => {
                return Err(Error::invalid("vocab", "must be at least 1"))
            }
            InputKind::Dense { width: 0 } => {
                return Err(Error::invalid("input width", "must be at least 1"))
            }
            _ => {}
        }
        match self.output {
            OutputKind::Classes { count: 0 } => {
                return Err(Error::invalid("classes", "must be at least 1"))
            }
            OutputKind::Values { width: 0 } => {
                return Err(Error::invalid("output width", "must be at least 1"))
            }
            _ => {}
        }
        if self.residual {
            for l in 1..self.layers() {
                if self.hidden[l] != self.hidden[l - 1] {
                    return Err(Error::invalid(
                        "residual",
                        format!(
                            "needs equal widths in stacked layers, but layer {} has {} units and layer {l} has {}",
                            l - 1,
                            self.hidden[l - 1],
                            self.hidden[l]
                        ),
                    ));
                }
            }
        }
        if !self.forget_gate && !self.cell.forget_gate_optional() {
            return Err(Error::invalid(
                "forget_gate",
                format!(
                    "only the lstm has a forget gate to remove, not {}",
                    self.cell
                ),
            ));
        }
        if self.layer_norm && !self.cell.supports_layer_norm() {
            return Err(Error::invalid(
                "layer_norm",
                format!("is available for the vanilla rnn only, not {}", self.cell),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec::new(
            CellKind::Lstm,
            InputKind::Tokens { vocab: 5 },
            8,
            2,
            OutputKind::Classes { count: 3 },
        )
    }

    #[test]
    fn errors_name_the_field() {
        let mut s = spec();
        s.hidden = vec![8, 0];
        assert!(s.validate().unwrap_err().to_string().contains("hidden"));
        let mut s = spec();
        s.hidden.clear();
        assert!(s.validate().unwrap_err().to_string().contains("layers"));
        let mut s = spec();
        s.hidden = vec![8, 4];
        s.residual = true;
        assert!(s.validate().unwrap_err().to_string().contains("residual"));
        let mut s = spec();
        s.layer_norm = true;
        assert!(s.validate().unwrap_err().to_string().contains("layer_norm"));
        assert!(spec().validate().is_ok());
    }

    #[test]
    fn ron_round_trip_and_unknown_fields_rejected() {
        let s = spec();
        let text = ron::to_string(&s).unwrap();
        assert_eq!(ron::from_str::<ModelSpec>(&text).unwrap(), s);
        let bad = text.replacen("residual", "resdual", 1);
        assert!(ron::from_str::<ModelSpec>(&bad).is_err());
    }
}
