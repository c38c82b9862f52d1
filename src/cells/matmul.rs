//! The per-step recurrent products `C ← A B` or `C ← C + A B` with a small A (B rows, one per
//! sequence).
//!
//! A general GEMM (matrixmultiply) packs both operands on every call: for the recurrent product
//! that is a copy of the whole of W_hh (1 MiB for an LSTM of width 256) at every timestep, which
//! was a sixth of the run time. For f32 on x86-64 with AVX2 and FMA (detected at run time) this
//! module instead runs a register-blocked kernel straight on row-major operands: 6 rows of A ×
//! 16 columns of B in twelve 8-lane accumulators, K in blocks of 256 so a B panel stays in L1 while
//! it is reused by every 6-row block of A. The caller keeps B row-major, in a [`PaddedMatrix`] copy
//! made once per sequence (W_hh^T for the forward pass, W_hh for the backward pass): its row
//! stride is an odd number of cache lines, so the rows of a panel do not all fall into the same
//! L1 set as they do with a power-of-two width (4 KiB aliasing made the kernel slower than
//! matrixmultiply before the padding).
//! Everything else (f64, other layouts, other CPUs) goes to `ndarray::linalg::general_mat_mul`.
//! Both paths are deterministic: the same inputs give bit-identical outputs on a given machine.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, NdFloat};
use std::any::TypeId;

/// A row-major copy of a (K, N) matrix whose row stride is padded to an odd multiple of 16
/// elements (64 bytes in f32), the B operand [`matmul_acc`] streams fastest.
#[derive(Debug, Clone)]
pub struct PaddedMatrix<F> {
    buf: Array2<F>,
    cols: usize,
}

impl<F: NdFloat> PaddedMatrix<F> {
    /// Copies `m` (any layout).
    pub fn new(m: ArrayView2<'_, F>) -> Self {
        let (rows, cols) = m.dim();
        let mut stride = cols.div_ceil(16) * 16;
        if (stride / 16) % 2 == 0 {
            stride += 16;
        }
        let mut buf = Array2::zeros((rows, stride));
        buf.slice_mut(s![.., ..cols]).assign(&m);
        PaddedMatrix { buf, cols }
    }

    /// The (K, N) matrix, unit column stride.
    pub fn view(&self) -> ArrayView2<'_, F> {
        self.buf.slice(s![.., ..self.cols])
    }
}

/// What [`matmul_acc`] does with the old contents of C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accumulate {
    /// `C ← C + A B`
    Add,
    /// `C ← A B`; the old contents are ignored (NaN in C does not leak through).
    Overwrite,
}

/// `c ← a · b` or `c ← c + a · b` (per `mode`) with a: (M, K), b: (K, N), c: (M, N), any strides
/// (the fast f32 kernel needs unit column strides and non-negative row strides; other layouts
/// take the general path).
///
/// # Panics
/// If the shapes do not agree.
pub(crate) fn matmul_acc<F: NdFloat>(
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    mode: Accumulate,
    c: &mut ArrayViewMut2<F>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "matmul_acc: inner dimensions differ");
    assert_eq!(c.dim(), (m, n), "matmul_acc: output shape");
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<F>() == TypeId::of::<f32>() && x86::available() {
        let unit_cols = |s: &[isize], cols: usize| s[1] == 1 || cols <= 1;
        if unit_cols(a.strides(), k)
            && unit_cols(b.strides(), n)
            && unit_cols(c.strides(), n)
            && a.strides()[0] >= 0
            && b.strides()[0] >= 0
            && c.strides()[0] >= 0
        {
            // SAFETY: F is f32 (same TypeId); the strides checked above describe valid row-major
            // element offsets of the three views for the given shapes; AVX2 and FMA are present.
            unsafe {
                x86::gemm(
                    m,
                    n,
                    k,
                    a.as_ptr() as *const f32,
                    a.strides()[0] as usize,
                    b.as_ptr() as *const f32,
                    b.strides()[0] as usize,
                    c.as_mut_ptr() as *mut f32,
                    c.strides()[0] as usize,
                    mode == Accumulate::Overwrite,
                );
            }
            return;
        }
    }
    let beta = match mode {
        Accumulate::Add => F::one(),
        Accumulate::Overwrite => F::zero(),
    };
    general_mat_mul(F::one(), a, b, beta, c);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// AVX2 and FMA, detected once.
    pub fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE
            .get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }

    /// Rows of A and 8-lane column vectors of B per register block: 12 accumulators, 2 B vectors
    /// and the broadcast fit the 16 ymm registers without spilling (4 × 3 spilled one
    /// accumulator to the stack and ran slower than matrixmultiply).
    const MR: usize = 6;
    const NV: usize = 2;
    /// Depth of a K block: a 256 × 16 panel of B is 16 KiB, inside L1.
    const KC: usize = 256;

    /// `C ← (zero_c ? 0 : C) + A B` on raw row-major f32 storage (row strides lda, ldb, ldc).
    ///
    /// # Safety
    /// The pointers must address M×K, K×N and M×N row-major matrices with the given row strides,
    /// C must not overlap A or B, and the CPU must support AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        zero_c: bool,
    ) {
        if k == 0 {
            if zero_c {
                for i in 0..m {
                    std::ptr::write_bytes(c.add(i * ldc), 0, n);
                }
            }
            return;
        }
        let mut k0 = 0;
        while k0 < k {
            let kc = KC.min(k - k0);
            let load_c = !(zero_c && k0 == 0);
            let (a, b) = (a.add(k0), b.add(k0 * ldb));
            let mut n0 = 0;
            while n0 < n {
                let vecs = ((n - n0) / 8).min(NV);
                if vecs == 0 {
                    tail_columns(
                        m,
                        n - n0,
                        kc,
                        a,
                        lda,
                        b.add(n0),
                        ldb,
                        c.add(n0),
                        ldc,
                        load_c,
                    );
                    break;
                }
                let mut i0 = 0;
                while i0 < m {
                    let rows = MR.min(m - i0);
                    let (ab, cb) = (a.add(i0 * lda), c.add(i0 * ldc + n0));
                    let bb = b.add(n0);
                    macro_rules! run {
                        ($($r:literal, $v:literal);*) => {
                            match (rows, vecs) {
                                $(($r, $v) => kernel::<$r, $v>(kc, ab, lda, bb, ldb, cb, ldc, load_c),)*
                                _ => unreachable!("rows ≤ MR and vecs ≤ NV"),
                            }
                        };
                    }
                    run!(6, 2; 6, 1; 5, 2; 5, 1; 4, 2; 4, 1; 3, 2; 3, 1; 2, 2; 2, 1; 1, 2; 1, 1);
                    i0 += rows;
                }
                n0 += 8 * vecs;
            }
            k0 += kc;
        }
    }

    /// C[0..R, 0..8V] ← (load_c ? C : 0) + A[0..R, 0..kc] B[0..kc, 0..8V], in R·V accumulators.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel<const R: usize, const V: usize>(
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        load_c: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        if load_c {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                for (v, acc_rv) in acc_r.iter_mut().enumerate() {
                    *acc_rv = _mm256_loadu_ps(c.add(r * ldc + 8 * v));
                }
            }
        }
        for kk in 0..kc {
            let bp = b.add(kk * ldb);
            let mut bv = [_mm256_setzero_ps(); V];
            for (v, bvv) in bv.iter_mut().enumerate() {
                *bvv = _mm256_loadu_ps(bp.add(8 * v));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*a.add(r * lda + kk));
                for (acc_rv, &bvv) in acc_r.iter_mut().zip(&bv) {
                    *acc_rv = _mm256_fmadd_ps(av, bvv, *acc_rv);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, &acc_rv) in acc_r.iter().enumerate() {
                _mm256_storeu_ps(c.add(r * ldc + 8 * v), acc_rv);
            }
        }
    }

    /// The last `nt` < 8 columns, scalar (only met when a width is not a multiple of 8).
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tail_columns(
        m: usize,
        nt: usize,
        kc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        load_c: bool,
    ) {
        for i in 0..m {
            for j in 0..nt {
                let cij = c.add(i * ldc + j);
                let mut s = if load_c { *cij } else { 0.0 };
                for kk in 0..kc {
                    s = (*a.add(i * lda + kk)).mul_add(*b.add(kk * ldb + j), s);
                }
                *cij = s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    fn reference(a: &Array2<f32>, b: &Array2<f32>, c0: &Array2<f32>, beta: f32) -> Array2<f64> {
        let (a, b) = (a.mapv(f64::from), b.mapv(f64::from));
        c0.mapv(|v| f64::from(beta * v)) + a.dot(&b)
    }

    fn mode(beta: f32) -> Accumulate {
        if beta == 0.0 {
            Accumulate::Overwrite
        } else {
            Accumulate::Add
        }
    }

    #[test]
    fn f32_kernel_matches_f64_product_for_every_edge_shape() {
        let mut seed = 1u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for &(m, k, n) in &[
            (32, 256, 1024),
            (32, 1024, 256),
            (5, 300, 37),
            (1, 1, 1),
            (3, 7, 8),
            (7, 513, 49),
            (4, 0, 16),
        ] {
            for beta in [0.0f32, 1.0] {
                let a = Array2::from_shape_fn((m, k), |_| next());
                let b = Array2::from_shape_fn((k, n), |_| next());
                let c0 = Array2::from_shape_fn((m, n), |_| next());
                let want = reference(&a, &b, &c0, beta);
                let mut c = c0.clone();
                if beta == 0.0 {
                    c.fill(f32::NAN); // beta 0 must ignore old contents
                }
                matmul_acc(&a.view(), &b.view(), mode(beta), &mut c.view_mut());
                let tol = 1e-5 * (k as f64 + 1.0);
                for (g, w) in c.iter().zip(want.iter()) {
                    assert!(
                        (f64::from(*g) - w).abs() < tol,
                        "{m}x{k}x{n} β={beta}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn column_blocks_and_transposed_views_are_handled() {
        let a = Array2::from_shape_fn((6, 20), |(i, j)| (i * 20 + j) as f32 * 0.01);
        let w = Array2::from_shape_fn((48, 20), |(i, j)| ((i + 2 * j) % 7) as f32 - 3.0);
        // transposed B (not row-major) takes the general path; both agree with f64
        let mut c = Array2::<f32>::zeros((6, 48));
        matmul_acc(&a.view(), &w.t(), Accumulate::Overwrite, &mut c.view_mut());
        let want = a.mapv(f64::from).dot(&w.t().mapv(f64::from));
        for (g, w) in c.iter().zip(want.iter()) {
            assert!((f64::from(*g) - w).abs() < 1e-4);
        }
        // a column block of the output, as the GRU writes
        let mut big = Array2::<f32>::ones((6, 96));
        let wt = w.t().as_standard_layout().into_owned();
        matmul_acc(
            &a.view(),
            &wt.view(),
            Accumulate::Add,
            &mut big.slice_mut(s![.., 24..72]),
        );
        for ((i, j), &v) in big.indexed_iter() {
            let expect = if (24..72).contains(&j) {
                1.0 + want[[i, j - 24]]
            } else {
                1.0
            };
            assert!((f64::from(v) - expect).abs() < 1e-4, "({i},{j})");
        }
    }

    /// `c0 (+ a b)` by the textbook triple loop, in f64.
    fn naive(
        a: ArrayView2<f64>,
        b: ArrayView2<f64>,
        c0: ArrayView2<f64>,
        add: bool,
    ) -> Array2<f64> {
        Array2::from_shape_fn(c0.dim(), |(i, j)| {
            let start = if add { c0[[i, j]] } else { 0.0 };
            (0..a.ncols()).fold(start, |acc, k| acc + a[[i, k]] * b[[k, j]])
        })
    }

    /// Views with odd row strides, non-unit and negative column strides, in f64 and f32, both
    /// modes: every layout gives the product (the f32 kernel where it applies, else the general
    /// path), and Overwrite ignores NaN in C.
    #[test]
    fn odd_strides_in_f64_and_f32_for_both_modes() {
        let big_a = Array2::from_shape_fn((11, 23), |(i, j)| ((3 * i + 5 * j) % 13) as f64 - 6.0);
        let big_b =
            Array2::from_shape_fn((31, 19), |(i, j)| ((7 * i + 2 * j) % 11) as f64 * 0.5 - 2.5);
        let big_c = Array2::from_shape_fn((13, 29), |(i, j)| ((i + 3 * j) % 5) as f64 - 2.0);
        // (M, K) = (5, 7), (K, N) = (7, 6)
        let a_views = [
            big_a.slice(s![1..6, 3..10]), // odd row stride 23, unit columns
            big_a.slice(s![..;2, ..;3]).slice_move(s![..5, ..7]), // stride 46 × 3
            big_a.slice(s![5..10;-1, 2..9]), // negative row stride
        ];
        let b_views = [
            big_b.slice(s![2..9, 1..7]), // odd row stride 19
            big_b.slice(s![..;4, ..;-3]).slice_move(s![..7, ..6]), // negative column stride
            big_b.t().slice_move(s![3..10, 4..10]), // column-major
        ];
        for a in &a_views {
            for b in &b_views {
                for add in [false, true] {
                    let mode = if add {
                        Accumulate::Add
                    } else {
                        Accumulate::Overwrite
                    };
                    let want = naive(a.view(), b.view(), big_c.slice(s![2..7, 5..11]), add);
                    // f64 into an odd-stride block of a bigger C
                    let mut c64 = big_c.clone();
                    if !add {
                        c64.slice_mut(s![2..7, 5..11]).fill(f64::NAN);
                    }
                    matmul_acc(a, b, mode, &mut c64.slice_mut(s![2..7, 5..11]));
                    let got = c64.slice(s![2..7, 5..11]);
                    assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-12));
                    // outside the block nothing changed
                    let mut outside = c64.clone();
                    outside
                        .slice_mut(s![2..7, 5..11])
                        .assign(&big_c.slice(s![2..7, 5..11]));
                    assert_eq!(outside, big_c);
                    // f32, C with a column step
                    let (a32, b32) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
                    let mut c32 = big_c.mapv(|v| v as f32);
                    if !add {
                        c32.slice_mut(s![2..7, 5..17;2]).fill(f32::NAN);
                    }
                    let start = naive(a.view(), b.view(), big_c.slice(s![2..7, 5..17;2]), add);
                    matmul_acc(
                        &a32.view(),
                        &b32.view(),
                        mode,
                        &mut c32.slice_mut(s![2..7, 5..17;2]),
                    );
                    let got = c32.slice(s![2..7, 5..17;2]);
                    assert!(got
                        .iter()
                        .zip(&start)
                        .all(|(g, w)| (f64::from(*g) - w).abs() < 1e-4));
                }
            }
        }
    }
}
