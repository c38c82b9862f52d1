//! Model files: the weights as safetensors, with PyTorch's tensor names (so
//! `torch.nn.LSTM(...).load_state_dict(safetensors.torch.load_file(path), strict=False)` takes the
//! recurrent weights unchanged; the readout and layer-norm tensors are the extra keys), and the
//! architecture as RON.

use ndarray::NdFloat;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

use crate::batch::cast;
use crate::error::{Error, Result};
use crate::init::InitSpec;
use crate::network::{ModelSpec, Network, Params};

/// The weights' file name inside a model or run directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The architecture's file name inside a model or run directory.
pub const SPEC_FILE: &str = "model.ron";

/// What `model.ron` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDescription {
    /// The rnnlab version that wrote the file.
    pub rnnlab_version: String,
    /// Element type of the weights file: "f32" or "f64".
    pub dtype: String,
    pub model: ModelSpec,
    /// Whether the recurrent layers are exactly a `torch.nn` module, and which.
    #[serde(default)]
    pub torch: TorchEquivalent,
    /// How the weights were first drawn (before training), when the writer knew it; a chrono
    /// initialisation shows its resolved T_max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitSpec>,
}

/// What PyTorch module computes the same function as a model's recurrent layers (the readout is
/// always the extra `readout.weight`/`readout.bias`, a `torch.nn.Linear` on the top layer's h).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TorchEquivalent {
    /// True when `module` with these weights computes exactly what rnnlab computes.
    pub exact: bool,
    /// The constructor, e.g. `torch.nn.LSTM(input_size=16, hidden_size=64, num_layers=1)`.
    pub module: Option<String>,
    /// Why the model is not exactly a `torch.nn` module, when it is not.
    pub reason: Option<String>,
}

impl TorchEquivalent {
    /// The equivalent of `spec`: `torch.nn.RNN` (tanh or relu), `torch.nn.LSTM` or `torch.nn.GRU`
    /// with equal widths, no residual connections and no layer norm; anything else is not exact.
    pub fn of(spec: &ModelSpec) -> TorchEquivalent {
        use crate::cells::{Activation, CellKind};
        let not = |reason: String| TorchEquivalent {
            exact: false,
            module: None,
            reason: Some(reason),
        };
        let class = match (spec.cell, spec.activation) {
            (CellKind::Lstm, _) => "LSTM",
            (CellKind::Gru, _) => "GRU",
            (CellKind::Rnn, Activation::Tanh | Activation::Relu) => "RNN",
            (CellKind::Rnn, a) => {
                return not(format!(
                    "torch.nn.RNN has no {a} nonlinearity (tanh and relu only)"
                ))
            }
            (other, _) => return not(format!("torch.nn has no {other} cell")),
        };
        if !spec.forget_gate {
            return not(
                "torch.nn.LSTM always has a forget gate (this is the 1997 cell, f ≡ 1)".into(),
            );
        }
        if spec.layer_norm {
            return not("torch.nn.RNN has no layer normalisation".into());
        }
        if spec.residual {
            return not("torch.nn recurrent modules have no residual connections".into());
        }
        let first = spec.hidden.first().copied().unwrap_or(0);
        if spec.hidden.iter().any(|&h| h != first) {
            return not("torch.nn recurrent modules have one hidden size for all layers".into());
        }
        let nonlinearity = match (spec.cell, spec.activation) {
            (CellKind::Rnn, Activation::Relu) => ", nonlinearity='relu'",
            _ => "",
        };
        TorchEquivalent {
            exact: true,
            module: Some(format!(
                "torch.nn.{class}(input_size={}, hidden_size={first}, num_layers={}{nonlinearity})",
                spec.input.width(),
                spec.hidden.len()
            )),
            reason: None,
        }
    }
}

/// Writes `dir/model.safetensors` and `dir/model.ron`, creating `dir` if needed.
pub fn save_model<F: NdFloat>(net: &Network<F>, dir: &Path) -> Result<()> {
    save_model_initialised(net, None, dir)
}

/// [`save_model`], with `model.ron` also saying how the weights were first drawn.
pub fn save_model_initialised<F: NdFloat>(
    net: &Network<F>,
    init: Option<&InitSpec>,
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    save_weights_with(
        &net.params,
        &dir.join(WEIGHTS_FILE),
        &TorchEquivalent::of(&net.spec),
    )?;
    let description = ModelDescription {
        rnnlab_version: env!("CARGO_PKG_VERSION").to_string(),
        dtype: dtype_name::<F>().to_string(),
        model: net.spec.clone(),
        torch: TorchEquivalent::of(&net.spec),
        init: init.copied(),
    };
    let text = ron::ser::to_string_pretty(&description, ron::ser::PrettyConfig::default())
        .map_err(|e| Error::bad_file(dir.join(SPEC_FILE), e.to_string()))?;
    write_file(&dir.join(SPEC_FILE), text.as_bytes())
}

/// Reads a model saved by [`save_model`] (or weights from PyTorch with the same names), in the
/// float type `F` whatever the file's dtype.
pub fn load_model<F: NdFloat>(dir: &Path) -> Result<Network<F>> {
    let spec = checked_spec(dir)?;
    let params = load_weights(&spec, &dir.join(WEIGHTS_FILE))?;
    Network::new(spec, params)
}

/// The architecture of the model in `dir`, read and checked without allocating its weights: a
/// valid `model.ron` whose sizes the weights file can hold and the memory limit allows.
pub fn checked_spec(dir: &Path) -> Result<ModelSpec> {
    let description = read_description(dir)?;
    check_model_size(
        &description.model,
        &dir.join(SPEC_FILE),
        &dir.join(WEIGHTS_FILE),
    )?;
    Ok(description.model)
}

/// Reads and validates `dir/model.ron` alone (no weights, no arrays). Errors name the file.
pub fn read_description(dir: &Path) -> Result<ModelDescription> {
    let spec_path = dir.join(SPEC_FILE);
    let text = read_file(&spec_path)?;
    let text =
        String::from_utf8(text).map_err(|_| Error::bad_file(&spec_path, "is not UTF-8 text"))?;
    let description: ModelDescription = ron::from_str(&text).map_err(|e| {
        Error::bad_file(
            &spec_path,
            format!(
                "line {}, column {}: {}",
                e.position.line, e.position.col, e.code
            ),
        )
    })?;
    description
        .model
        .validate()
        .map_err(|e| Error::bad_file(&spec_path, e.to_string()))?;
    Ok(description)
}

/// Below this many bytes of f64 parameters a description that disagrees with its weights file is
/// reported tensor by tensor by [`load_weights`]; above it, before anything is allocated.
const SMALL_MODEL_BYTES: u128 = 64 << 20;

/// Refuses, before any array is allocated, a `model.ron` whose sizes its weights file cannot hold
/// (every parameter takes at least 4 bytes there; checked for models above 64 MiB) or whose
/// parameters (4 copies in f64) would be above the default memory limit. Counted in u128, so no size in the file can overflow it. The error
/// names `model.ron` and the field `hidden`.
fn check_model_size(spec: &ModelSpec, spec_path: &Path, weights_path: &Path) -> Result<()> {
    let gates = spec.cell.gates() as u128;
    let output = spec.output.width() as u128;
    // `count` is an upper bound of the parameters (every gate block with its own input, recurrent
    // and two bias blocks), `at_least` a lower bound (every cell has at least an H×I input and an
    // H×H recurrent matrix, whatever its layout: the LRU's complex B, C and D differ from gates)
    let readout = output
        .saturating_mul(spec.top_width() as u128)
        .saturating_add(output);
    let (mut count, mut at_least) = (readout, readout);
    for l in 0..spec.layers() {
        let (h, i) = (spec.hidden[l] as u128, spec.layer_input_width(l) as u128);
        let gh = gates.max(2).saturating_mul(h);
        let layer = gh
            .saturating_mul(i.saturating_add(h).saturating_add(2))
            .saturating_add(if spec.layer_norm { 2 * h } else { 0 });
        count = count.saturating_add(layer);
        at_least = at_least.saturating_add(h.saturating_mul(i.saturating_add(h)));
    }
    let bad = |message: String| Error::bad_file(spec_path, format!("field `hidden`: {message}"));
    let file_bytes = std::fs::metadata(weights_path)
        .map(|m| u128::from(m.len()))
        .map_err(|source| Error::Io {
            path: weights_path.to_path_buf(),
            source,
        })?;
    // a small mismatch is left to `load_weights`, whose error names the tensor that differs
    if at_least.saturating_mul(4) > file_bytes && count.saturating_mul(8) > SMALL_MODEL_BYTES {
        return Err(bad(format!(
            "widths {:?} need at least {at_least} parameters, but {} holds only {file_bytes} bytes",
            spec.hidden,
            weights_path.display()
        )));
    }
    let limit = crate::resources::memory_limit(None);
    let needed = count.saturating_mul(8 * 4);
    if needed > u128::from(limit) {
        return Err(bad(format!(
            "widths {:?} need an estimated {} for the parameters alone, above the limit of {}",
            spec.hidden,
            crate::resources::gib(needed),
            crate::resources::gib(u128::from(limit))
        )));
    }
    Ok(())
}

/// The safetensors bytes with the header's `__metadata__` keys in sorted order. The crate writes
/// them in a `HashMap`'s order, which differs from process to process; sorted, the same weights
/// always give the same file. The header keeps its length (the same keys and values, reordered).
fn with_sorted_metadata(mut bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let size: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or("no header")?;
    let n = usize::try_from(u64::from_le_bytes(size)).map_err(|e| e.to_string())?;
    let header = bytes.get(8..8 + n).ok_or("header beyond the file")?;
    let text = std::str::from_utf8(header).map_err(|e| e.to_string())?;
    let trimmed = text.trim_end();
    let mut value: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| e.to_string())?;
    if let Some(meta) = value
        .get_mut("__metadata__")
        .and_then(|m| m.as_object_mut())
    {
        meta.sort_keys();
    }
    let sorted = serde_json::to_string(&value).map_err(|e| e.to_string())?;
    if sorted.len() != trimmed.len() {
        return Err("the sorted header changed length".into());
    }
    bytes[8..8 + sorted.len()].copy_from_slice(sorted.as_bytes());
    Ok(bytes)
}

/// Writes every tensor of `params` under its PyTorch name, in `F`'s dtype.
pub fn save_weights<F: NdFloat>(params: &Params<F>, path: &Path) -> Result<()> {
    save_weights_with(params, path, &TorchEquivalent::default())
}

/// [`save_weights`], with the file's metadata saying whether the weights are exactly a
/// `torch.nn` module (`torch_exact`, `torch_module` or `torch_not_exact_because`).
fn save_weights_with<F: NdFloat>(
    params: &Params<F>,
    path: &Path,
    torch: &TorchEquivalent,
) -> Result<()> {
    let named = params.named();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone(), to_le_bytes(t.data)))
        .collect();
    let dtype = if dtype_name::<F>() == "f64" {
        Dtype::F64
    } else {
        Dtype::F32
    };
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::bad_file(path, format!("tensor {name}: {e}")))
        })
        .collect::<Result<_>>()?;
    let mut metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("torch_exact".to_string(), torch.exact.to_string()),
    ]);
    if let Some(module) = &torch.module {
        metadata.insert("torch_module".to_string(), module.clone());
    }
    if let Some(reason) = &torch.reason {
        metadata.insert("torch_not_exact_because".to_string(), reason.clone());
    }
    let out = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::bad_file(path, e.to_string()))?;
    let out = with_sorted_metadata(out).map_err(|e| Error::bad_file(path, e))?;
    write_file(path, &out)
}

/// Reads the tensors `spec` needs from a safetensors file: every name must be present with the
/// right shape (f32 or f64), and no unknown tensor may be there.
pub fn load_weights<F: NdFloat>(spec: &ModelSpec, path: &Path) -> Result<Params<F>> {
    let bytes = read_file(path)?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::bad_file(path, format!("not a safetensors file: {e}")))?;
    let mut params = Params::<F>::zeros(spec);
    let expected: Vec<(String, Vec<usize>)> = params
        .named()
        .into_iter()
        .map(|t| (t.name, t.shape))
        .collect();
    for name in file.names() {
        if !expected.iter().any(|(n, _)| n == name) {
            return Err(Error::bad_file(
                path,
                format!(
                    "unexpected tensor '{name}' for a {} model with {} layer(s)",
                    spec.cell,
                    spec.layers()
                ),
            ));
        }
    }
    for ((name, shape), dst) in expected.iter().zip(params.slices_mut()) {
        let view = file
            .tensor(name)
            .map_err(|_| Error::bad_file(path, format!("missing tensor '{name}'")))?;
        if view.shape() != shape.as_slice() {
            return Err(Error::bad_file(
                path,
                format!(
                    "tensor '{name}' has shape {:?}, the model needs {shape:?}",
                    view.shape()
                ),
            ));
        }
        match view.dtype() {
            Dtype::F32 => {
                for (d, chunk) in dst.iter_mut().zip(view.data().chunks_exact(4)) {
                    *d = cast(f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
                }
            }
            Dtype::F64 => {
                for (d, chunk) in dst.iter_mut().zip(view.data().chunks_exact(8)) {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(chunk);
                    *d = cast(f64::from_le_bytes(b));
                }
            }
            other => {
                return Err(Error::bad_file(
                    path,
                    format!("tensor '{name}' has dtype {other:?}; rnnlab reads F32 and F64"),
                ))
            }
        }
    }
    Ok(params)
}

fn dtype_name<F: NdFloat>() -> &'static str {
    if std::mem::size_of::<F>() == 8 {
        "f64"
    } else {
        "f32"
    }
}

fn to_le_bytes<F: NdFloat>(data: &[F]) -> Vec<u8> {
    if std::mem::size_of::<F>() == 8 {
        data.iter()
            .flat_map(|&v| cast::<F, f64>(v).to_le_bytes())
            .collect()
    } else {
        data.iter()
            .flat_map(|&v| cast::<F, f32>(v).to_le_bytes())
            .collect()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
