//! The floating-point environment of rnnlab's arithmetic: subnormal numbers are flushed to zero.
//!
//! Backpropagation through time is the textbook way to make subnormals: an adjoint that shrinks
//! by a constant factor per step falls below the smallest normal number (f32: 1.2·10⁻³⁸) a few
//! hundred steps from the loss and then creeps through the subnormal range, where each multiply
//! or add takes a microcode assist of about a hundred cycles on x86. Measured with
//! `rnnlab bench --threads 1 --warmup 1` on this project's 2-core machine (ms per step, IEEE
//! subnormals → flushed): GRU H = 32 at T = 200 30.1 → 3.5 and at T = 400 52.6 → 6.8; the tanh
//! RNN at T = 200 10.4 → 1.3; the LSTM H = 64 at T = 1,000 1,109 → 84. At T = 100, where nothing
//! is subnormal yet, both modes take the same time.
//!
//! [`flush_subnormals`] sets flush-to-zero (a result below the smallest normal becomes ±0) and
//! denormals-are-zero (such an input is read as ±0) for the calling thread while its guard lives;
//! the library's entry points (training, the gradient report, evaluation, the benchmark) hold one,
//! and [`crate::parallel::run`] runs every block of a region in its caller's environment, so the
//! thread count never changes a bit. What it changes: values below 1.2·10⁻³⁸ in f32 (2.2·10⁻³⁰⁸ in
//! f64) are 0 instead of subnormal. Such a gradient moves no weight (Adam's step for it is below
//! 10⁻³⁰), and the gradient report's f64 profile reaches 2.2·10⁻³⁰⁸ before it reads 0 (it read 0
//! at 4.9·10⁻³²⁴ before). PyTorch offers the same switch (`torch.set_flush_denormal(True)`), off
//! by default. On targets other than x86-64 and AArch64 the guard does nothing.

/// A thread's floating-point control word (x86-64: MXCSR; AArch64: FPCR); two are equal when
/// their control bits are (rounding, flushing, exception masks), whatever the sticky flags say.
#[derive(Clone, Copy, Debug)]
pub struct FloatEnv(u64);

impl PartialEq for FloatEnv {
    fn eq(&self, other: &FloatEnv) -> bool {
        self.0 & arch::CONTROL == other.0 & arch::CONTROL
    }
}
impl Eq for FloatEnv {}

#[cfg(target_arch = "x86_64")]
mod arch {
    /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
    pub const FLUSH: u64 = (1 << 15) | (1 << 6);

    /// The control bits (MXCSR's bits 0–5 are sticky exception flags, which arithmetic sets).
    pub const CONTROL: u64 = 0xFFC0;

    pub fn get() -> u64 {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr stores the 32-bit control register into the local it is given.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        u64::from(csr)
    }

    pub fn set(value: u64) {
        let csr = value as u32;
        // SAFETY: ldmxcsr loads a control word read by `get` with only the flush bits changed
        // (reserved bits stay as the processor gave them, so it cannot fault).
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    /// FPCR's flush-to-zero (bit 24), which on AArch64 covers inputs and outputs.
    pub const FLUSH: u64 = 1 << 24;
    /// FPCR holds control bits only (the flags are in FPSR).
    pub const CONTROL: u64 = u64::MAX;

    pub fn get() -> u64 {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effect.
        unsafe { std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack)) };
        fpcr
    }

    pub fn set(value: u64) {
        // SAFETY: writes back a value read by `get` with only the FZ bit changed.
        unsafe { std::arch::asm!("msr fpcr, {}", in(reg) value, options(nomem, nostack)) };
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    pub const FLUSH: u64 = 0;
    pub const CONTROL: u64 = 0;
    pub fn get() -> u64 {
        0
    }
    pub fn set(_: u64) {}
}

impl FloatEnv {
    /// The calling thread's environment.
    pub fn current() -> FloatEnv {
        FloatEnv(arch::get())
    }

    /// Whether subnormals are flushed in this environment.
    pub fn flushes_subnormals(self) -> bool {
        arch::FLUSH != 0 && self.0 & arch::FLUSH == arch::FLUSH
    }

    /// Makes this the calling thread's environment until the guard is dropped.
    pub fn enter(self) -> EnvGuard {
        let saved = FloatEnv::current();
        if saved != self {
            arch::set(self.0);
        }
        EnvGuard { saved }
    }
}

/// Restores the environment a thread had before [`FloatEnv::enter`] or [`flush_subnormals`].
#[must_use = "the environment is restored when the guard is dropped"]
pub struct EnvGuard {
    saved: FloatEnv,
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        if FloatEnv::current() != self.saved {
            arch::set(self.saved.0);
        }
    }
}

/// Flushes subnormals to zero on the calling thread until the guard is dropped (see the module).
pub fn flush_subnormals() -> EnvGuard {
    FloatEnv(FloatEnv::current().0 | arch::FLUSH).enter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest normal f32 halved: subnormal under IEEE rules, 0 when flushed.
    fn halved_min_positive(x: f32) -> f32 {
        std::hint::black_box(x) * std::hint::black_box(0.5)
    }

    #[test]
    fn the_guard_flushes_and_restores() {
        let before = FloatEnv::current();
        let ieee = halved_min_positive(f32::MIN_POSITIVE);
        assert!(ieee > 0.0 && !ieee.is_normal());
        {
            let _guard = flush_subnormals();
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert!(FloatEnv::current().flushes_subnormals());
                assert_eq!(halved_min_positive(f32::MIN_POSITIVE), 0.0);
                // nested guards restore the outer one's environment, not IEEE
                {
                    let _inner = flush_subnormals();
                }
                assert_eq!(halved_min_positive(f32::MIN_POSITIVE), 0.0);
            }
        }
        assert_eq!(FloatEnv::current(), before);
        assert_eq!(halved_min_positive(f32::MIN_POSITIVE), ieee);
    }

    #[test]
    fn regions_run_in_their_callers_environment() {
        use std::sync::Mutex;
        let seen = Mutex::new(Vec::new());
        let _guard = flush_subnormals();
        crate::parallel::run((0..3).collect(), |_: usize| {
            let x = halved_min_positive(f32::MIN_POSITIVE);
            seen.lock().unwrap().push(x);
        });
        let expected = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            0.0
        } else {
            halved_min_positive(f32::MIN_POSITIVE)
        };
        assert_eq!(seen.into_inner().unwrap(), vec![expected; 3]);
    }
}
