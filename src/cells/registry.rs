//! The registry: one line per cell (in `cells/mod.rs`) maps its name to its module and type. From
//! that list the `registry!` macro declares the cell's module and makes [`CellKind`] (the name in
//! `model.ron` and on the command line), the enums that hold any cell's cache and adjoints
//! ([`CellCache`], [`CellAdjoint`]), and the single dispatch point, [`CellKind::visit`], through which the network's time loops, the initialisation and the
//! diagnostics run with the concrete cell type (static dispatch: every loop is monomorphised).

use ndarray::NdFloat;
use std::fmt;

use super::{Cell, CellAdjoint, CellCache, CellConfig, CellKind};

/// Code to run with a concrete cell type: `CellKind::visit` calls `visit` with the cell.
pub trait CellVisitor {
    type Output;
    fn visit<C: Registered>(self, cell: C) -> Self::Output;
}

/// A registered cell: how its cache and adjoints sit in [`CellCache`] and [`CellAdjoint`]
/// (implemented by the `registry!` macro, never by hand).
pub trait Registered: Cell {
    const KIND: CellKind;
    /// The cell's cache inside `slot`, replacing whatever another cell left there.
    fn cache_mut<F: NdFloat>(slot: &mut CellCache<F>) -> &mut Self::Cache<F>;
    /// The cell's cache, None when `slot` holds another cell's.
    fn cache_ref<F: NdFloat>(slot: &CellCache<F>) -> Option<&Self::Cache<F>>;
    /// The cell's adjoints inside `slot`, replacing whatever another cell left there.
    fn adjoint_mut<F: NdFloat>(slot: &mut CellAdjoint<F>) -> &mut Self::Adjoint<F>;
}

macro_rules! registry {
    (
        standard { $($sv:ident = $sn:literal => $sm:ident :: $st:ident,)+ }
        extra { $($xv:ident = $xn:literal => $xm:ident :: $xt:ident,)* }
    ) => {
        $crate::cells::registry::registry!(
            @gen [$($sv,)+] [$($sv = $sn => $sm :: $st,)+ $($xv = $xn => $xm :: $xt,)*]
        );
    };
    (@help [$first:literal $(, $rest:literal)*]) => {
        concat!("The recurrent cell, one of ", $first, $(", ", $rest,)* ".")
    };
    (@gen [$($standard:ident,)+] [$($variant:ident = $name:literal => $module:ident :: $cell:ident,)+]) => {
        $(pub mod $module;)+

        /// Which recurrent cell a layer uses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum CellKind {
            $(#[serde(rename = $name)] $variant,)+
        }

        /// The help of `--cell`, listing every registered cell.
        pub const CELL_HELP: &str = $crate::cells::registry::registry!(@help [$($name),+]);

        /// Number of standard cells.
        pub const CELL_COUNT: usize = [$(CellKind::$standard,)+].len();
        /// Number of registered cells, standard and extra.
        pub const REGISTERED_COUNT: usize = [$($name,)+].len();

        impl CellKind {
            /// The standard cells, the peers of `torch.nn.RNN/LSTM/GRU`.
            pub const ALL: [CellKind; CELL_COUNT] = [$(CellKind::$standard,)+];
            /// Every registered cell: the standard ones and the extra ones (expRNN).
            pub const REGISTERED: [CellKind; REGISTERED_COUNT] = [$(CellKind::$variant,)+];

            /// The cell's name, as in `model.ron` and on the command line.
            pub fn name(self) -> &'static str {
                match self {
                    $(CellKind::$variant => $name,)+
                }
            }

            /// Runs `visitor` with the concrete cell built from `config`.
            pub fn visit<V: $crate::cells::CellVisitor>(self, config: &$crate::cells::CellConfig, visitor: V) -> V::Output {
                match self {
                    $(CellKind::$variant => visitor.visit(<$module::$cell as $crate::cells::Cell>::from_config(config)),)+
                }
            }
        }

        /// One layer's cell-specific forward cache.
        #[derive(Debug, Clone, Default)]
        pub enum CellCache<F: ndarray::NdFloat> {
            /// Nothing computed yet.
            #[default]
            Empty,
            $($variant(<$module::$cell as $crate::cells::Cell>::Cache<F>),)+
        }

        /// One layer's cell-specific adjoints.
        #[derive(Debug, Clone, Default)]
        pub enum CellAdjoint<F: ndarray::NdFloat> {
            #[default]
            Empty,
            $($variant(<$module::$cell as $crate::cells::Cell>::Adjoint<F>),)+
        }

        impl<F: ndarray::NdFloat> CellCache<F> {
            /// The second state (LSTM's c) for every step, (T+1, B, H).
            pub fn memory(&self) -> Option<&ndarray::Array3<F>> {
                match self {
                    CellCache::Empty => None,
                    $(CellCache::$variant(c) => <$module::$cell as $crate::cells::Cell>::memory(c),)+
                }
            }
        }

        impl<F: ndarray::NdFloat> CellAdjoint<F> {
            /// ∂ℓ/∂(second state) for every step, (T, B, H) (LSTM's dc).
            pub fn memory(&self) -> Option<&ndarray::Array3<F>> {
                match self {
                    CellAdjoint::Empty => None,
                    $(CellAdjoint::$variant(a) => <$module::$cell as $crate::cells::Cell>::memory_adjoint(a),)+
                }
            }

            /// ∂ℓ/∂(h_{t−1} W_hh^T + b_hh) when it differs from `d_pre` (GRU).
            pub fn recurrent(&self) -> Option<&ndarray::Array3<F>> {
                match self {
                    CellAdjoint::Empty => None,
                    $(CellAdjoint::$variant(a) => <$module::$cell as $crate::cells::Cell>::recurrent_adjoint(a),)+
                }
            }
        }

        $(
            impl $crate::cells::Registered for $module::$cell {
                const KIND: CellKind = CellKind::$variant;
                fn cache_mut<F: ndarray::NdFloat>(slot: &mut CellCache<F>) -> &mut Self::Cache<F> {
                    if !matches!(slot, CellCache::$variant(_)) {
                        *slot = CellCache::$variant(Default::default());
                    }
                    match slot {
                        CellCache::$variant(c) => c,
                        _ => unreachable!("set just above"),
                    }
                }
                fn cache_ref<F: ndarray::NdFloat>(slot: &CellCache<F>) -> Option<&Self::Cache<F>> {
                    match slot {
                        CellCache::$variant(c) => Some(c),
                        _ => None,
                    }
                }
                fn adjoint_mut<F: ndarray::NdFloat>(slot: &mut CellAdjoint<F>) -> &mut Self::Adjoint<F> {
                    if !matches!(slot, CellAdjoint::$variant(_)) {
                        *slot = CellAdjoint::$variant(Default::default());
                    }
                    match slot {
                        CellAdjoint::$variant(a) => a,
                        _ => unreachable!("set just above"),
                    }
                }
            }
        )+

        fn unknown_cell(other: &str) -> $crate::error::Error {
            let names = [$($name,)+];
            $crate::error::Error::invalid(
                "cell",
                format!("unknown cell '{other}' (expected {})", $crate::cells::registry::expected_list(&names)),
            )
        }

        impl std::str::FromStr for CellKind {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> Result<Self, $crate::error::Error> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($name => Ok(CellKind::$variant),)+
                    other => Err(unknown_cell(other)),
                }
            }
        }
    };
}

pub(crate) use registry;

/// "a, b or c"
pub(crate) fn expected_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a cell kind answers without a float type.
#[derive(Debug, Clone, Copy)]
struct CellFacts {
    gates: usize,
    has_memory: bool,
    supports_layer_norm: bool,
    uses_activation: bool,
    reparameterised: bool,
    forget_gate_optional: bool,
    supports_chrono: bool,
    default_activation: super::Activation,
    default_recurrent_init: crate::init::InitScheme,
}

struct Facts;

impl CellVisitor for Facts {
    type Output = CellFacts;
    fn visit<C: Registered>(self, cell: C) -> CellFacts {
        CellFacts {
            gates: cell.gates(),
            has_memory: cell.has_memory(),
            supports_layer_norm: C::SUPPORTS_LAYER_NORM,
            uses_activation: cell.uses_activation(),
            reparameterised: C::REPARAMETERISED,
            forget_gate_optional: C::FORGET_GATE_OPTIONAL,
            supports_chrono: C::SUPPORTS_CHRONO,
            default_activation: C::DEFAULT_ACTIVATION,
            default_recurrent_init: C::DEFAULT_RECURRENT_INIT,
        }
    }
}

impl CellKind {
    fn facts(self) -> CellFacts {
        self.visit(&CellConfig::default(), Facts)
    }

    /// Number of gate blocks stacked in `weight_ih` / `weight_hh`.
    pub fn gates(self) -> usize {
        self.facts().gates
    }

    /// (forward cache, adjoint) floats per unit and step beyond the gates' and h
    /// ([`super::Cell::extra_floats_per_unit`]).
    pub fn extra_floats_per_unit(self) -> (usize, usize) {
        struct Extra;
        impl CellVisitor for Extra {
            type Output = (usize, usize);
            fn visit<C: Registered>(self, cell: C) -> Self::Output {
                cell.extra_floats_per_unit()
            }
        }
        self.visit(&CellConfig::default(), Extra)
    }

    /// Whether the cell carries a second state besides h (LSTM's c).
    pub fn has_memory(self) -> bool {
        self.facts().has_memory
    }

    /// Whether the cell takes `layer_norm`.
    pub fn supports_layer_norm(self) -> bool {
        self.facts().supports_layer_norm
    }

    /// Whether the cell reads `activation`.
    pub fn uses_activation(self) -> bool {
        self.facts().uses_activation
    }

    /// Whether `forget_gate: false` may be set (the LSTM).
    pub fn forget_gate_optional(self) -> bool {
        self.facts().forget_gate_optional
    }

    /// The activation a model of this cell gets unless one is asked for (modReLU for expRNN).
    pub fn default_activation(self) -> super::Activation {
        self.facts().default_activation
    }

    /// The recurrent initialisation a model of this cell gets unless one is asked for (Henaff's
    /// rotations for expRNN).
    pub fn default_recurrent_init(self) -> crate::init::InitScheme {
        self.facts().default_recurrent_init
    }

    /// Whether the cell takes chrono initialisation (LSTM, GRU).
    pub fn supports_chrono(self) -> bool {
        self.facts().supports_chrono
    }

    /// Whether `weight_hh` parameterises the recurrent matrix rather than being it (expRNN).
    pub fn reparameterised(self) -> bool {
        self.facts().reparameterised
    }
}
