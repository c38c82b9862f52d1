//! Weight initialisation, selectable per weight group (input weights, recurrent weights, biases),
//! each with a scale factor, applied per gate block (never to the stacked matrix as a whole).
//!
//! All values are drawn in f64 from a ChaCha8 stream seeded by the caller and then cast, so an f32
//! and an f64 network built from the same seed hold the same weights up to rounding.

use ndarray::{Array1, Array2};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How one gate block (H × fan_in) is drawn. Every scheme is multiplied by the group's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitScheme {
    /// PyTorch's default for nn.RNN/LSTM/GRU: U(−1/√H, 1/√H).
    Default,
    /// Glorot & Bengio: U(±√(6 / (fan_in + H))) per block.
    Xavier,
    /// He / Kaiming (fan-in, for ReLU): N(0, 2 / fan_in).
    He,
    /// Saxe et al.: a random (semi-)orthogonal block, all singular values 1.
    Orthogonal,
    /// Le et al.'s IRNN: the identity (ones on the block's diagonal).
    Identity,
    /// All zeros.
    Zeros,
    /// Henaff, Szlam & LeCun 2016 (expRNN's default for the copy task): a block-diagonal rotation,
    /// 2×2 blocks `[[cos θ, sin θ], [−sin θ, cos θ]]` with θ ~ U[−π, π] (an odd size ends in a 1).
    /// Recurrent weights only. For expRNN it sets the skew parameter to the angles, so
    /// `exp(S − Sᵀ)` is this rotation.
    Henaff,
    /// Helfrich et al. 2018's Cayley initialisation as expRNN's code uses it: the same rotation
    /// blocks with θ = −tan(u/2), u ~ U[0, π/2] (θ ∈ [−1, 0]). Recurrent weights only.
    Cayley,
}

impl InitScheme {
    /// Whether the scheme draws a rotation from angles ([`rotation_angles`]): square recurrent
    /// blocks only.
    pub fn is_rotation(self) -> bool {
        matches!(self, InitScheme::Henaff | InitScheme::Cayley)
    }
}

impl fmt::Display for InitScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InitScheme::Default => "default",
            InitScheme::Xavier => "xavier",
            InitScheme::He => "he",
            InitScheme::Orthogonal => "orthogonal",
            InitScheme::Identity => "identity",
            InitScheme::Zeros => "zeros",
            InitScheme::Henaff => "henaff",
            InitScheme::Cayley => "cayley",
        })
    }
}

impl FromStr for InitScheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "default" | "pytorch" => InitScheme::Default,
            "xavier" | "glorot" => InitScheme::Xavier,
            "he" | "kaiming" => InitScheme::He,
            "orthogonal" => InitScheme::Orthogonal,
            "identity" | "irnn" => InitScheme::Identity,
            "zeros" | "zero" => InitScheme::Zeros,
            "henaff" => InitScheme::Henaff,
            "cayley" => InitScheme::Cayley,
            other => {
                return Err(Error::invalid(
                    "init",
                    format!("unknown scheme '{other}' (expected default, xavier, he, orthogonal, identity, zeros, henaff or cayley)"),
                ))
            }
        })
    }
}

/// A scheme and the factor every drawn value is multiplied by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightInit {
    pub scheme: InitScheme,
    #[serde(default = "one")]
    pub scale: f64,
}

fn one() -> f64 {
    1.0
}

impl WeightInit {
    pub fn new(scheme: InitScheme, scale: f64) -> Self {
        WeightInit { scheme, scale }
    }
}

/// Initialisation of every weight group. Defaults: PyTorch's U(±1/√H) everywhere, scale 1,
/// LSTM forget-gate bias 1.0. A config file may give only the groups it changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InitSpec {
    pub input: WeightInit,
    pub recurrent: WeightInit,
    /// `default` (U(±1/√H)) or `zeros`.
    pub bias: WeightInit,
    /// LSTM only: the forget gate's total bias (`bias_ih` forget block = this, `bias_hh` forget
    /// block = 0). Other gates keep the bias scheme.
    #[serde(default = "one")]
    pub forget_bias: f64,
    /// Gated cells only: chrono initialisation of the gate biases (overrides `forget_bias`).
    #[serde(default, skip_serializing_if = "Chrono::is_off")]
    pub chrono: Chrono,
}

/// Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"):
/// the gate that keeps the state gets bias `b = ln u`, `u ~ U[1, T_max − 1]` per unit, so that
/// unit's memory time scale `1/(1 − σ(b)) ≈ u` is spread over [1, T_max]. LSTM: `b_f = b`,
/// `b_i = −b`, every other bias 0; GRU: the update gate z (which keeps h) gets `b`, every other
/// bias 0. Written as `off`, `auto` (T_max = the task's longest dependency, resolved by the
/// trainer) or a number T_max ≥ 2.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Chrono {
    #[default]
    Off,
    /// T_max from the task: replaced by [`InitSpec::resolve_chrono`] before the weights are drawn.
    Auto,
    /// The longest dependency expected, in steps (≥ 2).
    TMax(f64),
}

impl Chrono {
    pub fn is_off(&self) -> bool {
        *self == Chrono::Off
    }
}

impl fmt::Display for Chrono {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chrono::Off => f.write_str("off"),
            Chrono::Auto => f.write_str("auto"),
            Chrono::TMax(t) => write!(f, "{t}"),
        }
    }
}

impl FromStr for Chrono {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| Error::invalid("chrono", why);
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "false" => Ok(Chrono::Off),
            "auto" | "on" | "true" => Ok(Chrono::Auto),
            other => {
                let t: f64 = other.parse().map_err(|_| {
                    bad(format!(
                        "'{other}' is not off, auto or a number T_max (the longest dependency)"
                    ))
                })?;
                if !t.is_finite() || t < 2.0 {
                    return Err(bad(format!("T_max {other} must be a finite number ≥ 2")));
                }
                Ok(Chrono::TMax(t))
            }
        }
    }
}

impl From<Chrono> for String {
    fn from(c: Chrono) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for Chrono {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse().map_err(|e: Error| e.to_string())
    }
}

impl Default for InitSpec {
    fn default() -> Self {
        let d = WeightInit::new(InitScheme::Default, 1.0);
        InitSpec {
            input: d,
            recurrent: d,
            bias: d,
            forget_bias: 1.0,
            chrono: Chrono::Off,
        }
    }
}

impl InitSpec {
    /// Every group with `scheme` at `scale` (biases: default for `default`, else zeros).
    pub fn uniform_scheme(scheme: InitScheme, scale: f64) -> Self {
        let bias = if scheme == InitScheme::Default {
            InitScheme::Default
        } else {
            InitScheme::Zeros
        };
        InitSpec {
            input: WeightInit::new(scheme, scale),
            recurrent: WeightInit::new(scheme, scale),
            bias: WeightInit::new(bias, 1.0),
            forget_bias: 1.0,
            chrono: Chrono::Off,
        }
    }

    /// The spec with `chrono: auto` replaced by `T_max = longest_dependency` (at least 2).
    pub fn resolve_chrono(&self, longest_dependency: usize) -> InitSpec {
        let mut out = *self;
        if out.chrono == Chrono::Auto {
            out.chrono = Chrono::TMax(longest_dependency.max(2) as f64);
        }
        out
    }

    /// T_max of chrono initialisation, None when it is off. An unresolved `auto` is an error: only
    /// the trainer, which knows the task, may draw weights with it.
    pub fn chrono_t_max(&self) -> Result<Option<f64>> {
        match self.chrono {
            Chrono::Off => Ok(None),
            Chrono::TMax(t) => Ok(Some(t)),
            Chrono::Auto => Err(Error::invalid(
                "chrono",
                "'auto' takes T_max from the task; give a number when there is no task",
            )),
        }
    }

    pub fn validate(&self) -> Result<()> {
        for (field, w) in [
            ("init.input", self.input),
            ("init.recurrent", self.recurrent),
            ("init.bias", self.bias),
        ] {
            if !w.scale.is_finite() {
                return Err(Error::invalid(field, "scale must be a finite number"));
            }
        }
        if !matches!(self.bias.scheme, InitScheme::Default | InitScheme::Zeros) {
            return Err(Error::invalid(
                "init.bias",
                format!(
                    "'{}' is a matrix scheme; biases take default or zeros",
                    self.bias.scheme
                ),
            ));
        }
        if self.input.scheme.is_rotation() {
            return Err(Error::invalid(
                "init.input",
                format!(
                    "'{}' draws a square rotation; it is a recurrent scheme (--recurrent-init)",
                    self.input.scheme
                ),
            ));
        }
        if !self.forget_bias.is_finite() {
            return Err(Error::invalid("forget_bias", "must be a finite number"));
        }
        if let Chrono::TMax(t) = self.chrono {
            if !t.is_finite() || t < 2.0 {
                return Err(Error::invalid(
                    "chrono",
                    format!("T_max {t} must be a finite number ≥ 2"),
                ));
            }
        }
        Ok(())
    }
}

/// G blocks of (H, fan_in), each drawn on its own, stacked into (G·H, fan_in).
pub(crate) fn stacked_blocks(
    gates: usize,
    h: usize,
    fan_in: usize,
    w: WeightInit,
    rng: &mut ChaCha8Rng,
) -> Array2<f64> {
    let mut out = Array2::zeros((gates * h, fan_in));
    for g in 0..gates {
        let block = weight_block(h, fan_in, w.scheme, rng) * w.scale;
        out.slice_mut(ndarray::s![g * h..(g + 1) * h, ..])
            .assign(&block);
    }
    out
}

/// One (rows, cols) gate block under `scheme`, before scaling.
pub fn weight_block(
    rows: usize,
    cols: usize,
    scheme: InitScheme,
    rng: &mut ChaCha8Rng,
) -> Array2<f64> {
    match scheme {
        InitScheme::Default => {
            let bound = 1.0 / (rows as f64).sqrt();
            Array2::from_shape_fn((rows, cols), |_| uniform(rng, bound))
        }
        InitScheme::Xavier => {
            let bound = (6.0 / (rows + cols) as f64).sqrt();
            Array2::from_shape_fn((rows, cols), |_| uniform(rng, bound))
        }
        InitScheme::He => {
            let std = (2.0 / cols as f64).sqrt();
            Array2::from_shape_fn((rows, cols), |_| std * rng.sample::<f64, _>(StandardNormal))
        }
        InitScheme::Orthogonal => orthogonal(rows, cols, rng),
        InitScheme::Identity => Array2::eye(rows.max(cols))
            .slice(ndarray::s![..rows, ..cols])
            .to_owned(),
        InitScheme::Zeros => Array2::zeros((rows, cols)),
        InitScheme::Henaff | InitScheme::Cayley => {
            let mut w = Array2::eye(rows.max(cols));
            for (k, theta) in rotation_angles(rows.min(cols), scheme, rng)
                .into_iter()
                .enumerate()
            {
                let (sin, cos) = theta.sin_cos();
                let i = 2 * k;
                w[[i, i]] = cos;
                w[[i, i + 1]] = sin;
                w[[i + 1, i]] = -sin;
                w[[i + 1, i + 1]] = cos;
            }
            w.slice(ndarray::s![..rows, ..cols]).to_owned()
        }
    }
}

/// The ⌊n/2⌋ angles of a rotation scheme ([`InitScheme::Henaff`]: U[−π, π];
/// [`InitScheme::Cayley`]: −tan(u/2), u ~ U[0, π/2]); block k rotates coordinates 2k, 2k+1.
/// Empty for any other scheme.
pub fn rotation_angles(n: usize, scheme: InitScheme, rng: &mut ChaCha8Rng) -> Vec<f64> {
    use std::f64::consts::{FRAC_PI_4, PI};
    match scheme {
        InitScheme::Henaff => (0..n / 2).map(|_| uniform(rng, PI)).collect(),
        InitScheme::Cayley => (0..n / 2)
            .map(|_| -(rng.random::<f64>() * FRAC_PI_4).tan())
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn bias(len: usize, h: usize, w: WeightInit, rng: &mut ChaCha8Rng) -> Array1<f64> {
    match w.scheme {
        InitScheme::Default => {
            let bound = 1.0 / (h as f64).sqrt();
            Array1::from_shape_fn(len, |_| uniform(rng, bound) * w.scale)
        }
        _ => Array1::zeros(len),
    }
}

/// H chrono biases `ln u`, `u ~ U[1, T_max − 1]` (see [`Chrono`]), drawn from a side stream of
/// `rng` at its current position, which `rng` itself does not advance over: with chrono on, every
/// weight is the one the same seed draws without it, only the gate biases differ.
pub fn chrono_biases(h: usize, t_max: f64, rng: &ChaCha8Rng) -> Array1<f64> {
    const CHRONO_STREAM: u64 = 0xc4_0e0;
    let mut side = rng.clone();
    side.set_stream(rng.get_stream() ^ CHRONO_STREAM);
    Array1::from_shape_fn(h, |_| (1.0 + side.random::<f64>() * (t_max - 2.0)).ln())
}

pub(crate) fn uniform(rng: &mut ChaCha8Rng, bound: f64) -> f64 {
    (rng.random::<f64>() * 2.0 - 1.0) * bound
}

/// A (rows, cols) matrix with orthonormal rows (rows ≤ cols) or columns (rows > cols): modified
/// Gram–Schmidt on a Gaussian matrix, which is the Q of its QR with R's diagonal made positive
/// (the same distribution as `torch.nn.init.orthogonal_`).
pub fn orthogonal(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let (m, n) = (rows.max(cols), rows.min(cols));
    let mut q = Array2::from_shape_fn((m, n), |_| rng.sample::<f64, _>(StandardNormal));
    for j in 0..n {
        for k in 0..j {
            let proj = q.column(j).dot(&q.column(k));
            let qk = q.column(k).to_owned();
            q.column_mut(j).scaled_add(-proj, &qk);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / norm);
    }
    if rows >= cols {
        q
    } else {
        q.t().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_rand::rand::SeedableRng;

    #[test]
    fn orthogonal_blocks_have_orthonormal_rows_or_columns() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (r, c) in [(6, 6), (4, 7), (7, 4)] {
            let q = orthogonal(r, c, &mut rng);
            let gram = if r <= c { q.dot(&q.t()) } else { q.t().dot(&q) };
            let eye = Array2::<f64>::eye(r.min(c));
            assert!((&gram - &eye).iter().all(|v| v.abs() < 1e-12), "{r}x{c}");
        }
    }
}
