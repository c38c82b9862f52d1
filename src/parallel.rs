//! Threads inside one run: the batch is split into blocks of rows (sequences), and each block runs
//! on its own thread. Sequences of a batch never meet inside the time loops, so a block runs its
//! whole time loop without synchronising with the others: one region (hand out the blocks, wait
//! for them) per layer and pass, not a barrier per step. The weight-gradient products after the
//! time loop are split by their output rows, so every sum keeps its order (over timesteps and
//! sequences, as on one thread). Regions run on workers that each calling thread keeps ([`run`]).
//!
//! Results are bit-identical whatever the thread count: no float sum's order depends on the split
//! (each output element of every split product is computed by the same kernel over the same
//! operands in the same order; a split only decides which thread computes it), and sums across
//! rows are split by columns (bias gradients: each column summed row after row by one thread) or
//! stay on the calling thread (the readout, the loss). Cells whose backward
//! step accumulates across rows (the RNN's layer-norm γ, β; expRNN's modReLU bias) run that step
//! on one thread ([`crate::cells::Cell::adjoint_rows`]).
//!
//! The thread count is a setting of the calling thread ([`set_threads`], default 1): library calls
//! use one thread unless asked, and each sweep worker sets its own. Work too small to pay for a
//! region (measured: about 15 µs at 2 threads on this machine, `examples/sync_cost.rs`) runs on
//! one thread ([`plan`], [`plan_elementwise`]).

use ndarray::{ArrayView2, ArrayViewMut2, Axis, NdFloat};
use std::cell::Cell;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;

thread_local! {
    static THREADS: Cell<usize> = const { Cell::new(1) };
    static MIN_WORK: Cell<usize> = const { Cell::new(MIN_WORK_PER_THREAD) };
}

/// Threads the calling thread's runs may use (at least 1).
pub fn threads() -> usize {
    THREADS.with(Cell::get)
}

/// Sets the threads the calling thread's runs may use (0 is taken as 1).
pub fn set_threads(n: usize) {
    THREADS.with(|t| t.set(n.max(1)));
}

/// Runs `f` with `n` threads set, restoring the previous setting afterwards.
pub fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let old = threads();
    set_threads(n);
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_threads(self.0);
        }
    }
    let _restore = Restore(old);
    f()
}

/// The number of cores (`std::thread::available_parallelism`, 1 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Multiply-adds below which one more thread does not pay for its fork and join (about 20 µs of
/// synchronisation against ~4 multiply-adds per ns on one core; measured with `rnnlab bench`).
pub const MIN_WORK_PER_THREAD: usize = 1 << 22;

/// Sets the calling thread's minimum multiply-adds per thread ([`MIN_WORK_PER_THREAD`] by
/// default). Tests set 1 to split even tiny batches.
pub fn set_min_work(n: usize) {
    MIN_WORK.with(|w| w.set(n.max(1)));
}

/// How many blocks to split `rows` rows into when the whole job is `work` multiply-adds: at most
/// [`threads`], at most `rows`, and no block with less than the minimum work per thread.
pub fn plan(rows: usize, work: usize) -> usize {
    threads()
        .min(rows)
        .min(work / MIN_WORK.with(Cell::get))
        .max(1)
}

/// What one element of a memory-bound pass (a copy, an add, a gather or scatter of rows) costs in
/// multiply-adds of a matrix product, for [`plan_elementwise`]: with the default minimum work, such
/// a pass is split once each thread gets 2¹⁹ elements (2 MiB of f32, about 0.1 ms), a few times
/// the fork and join it pays for.
pub const ELEMENT_WORK: usize = 8;

/// [`plan`] for a memory-bound pass over `elements` elements in `rows` independent rows.
pub fn plan_elementwise(rows: usize, elements: usize) -> usize {
    plan(rows, elements.saturating_mul(ELEMENT_WORK))
}

/// `0..rows` cut into `parts` contiguous ranges of near-equal length (the first ones longer).
pub fn ranges(rows: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, rows.max(1));
    let (q, r) = (rows / parts, rows % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = q + usize::from(i < r);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// Runs `f` on every job, the first on the calling thread and each other on one of the calling
/// thread's pool workers ([`pool`]); returns when all are done. A panic in a job is re-raised
/// here, after every other job has finished. Every job runs in the caller's floating-point
/// environment ([`crate::float_env`]).
pub fn run<T: Send>(jobs: Vec<T>, f: impl Fn(T) + Sync) {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else { return };
    let mut rest = jobs.peekable();
    if rest.peek().is_none() {
        f(first);
        return;
    }
    let f = &f;
    // every block runs in the caller's floating-point environment (crate::float_env)
    let env = crate::float_env::FloatEnv::current();
    let (done_tx, done_rx) = mpsc::channel::<std::thread::Result<()>>();
    let mut sent = 0;
    pool::with_workers(rest.len(), |workers| {
        for worker in workers {
            let Some(job) = rest.next() else { break };
            sent += 1;
            let done = done_tx.clone();
            let task: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
                let _env = env.enter();
                let result = panic::catch_unwind(AssertUnwindSafe(|| f(job)));
                // the job and its borrows are gone before the caller hears of it
                let _ = done.send(result);
            });
            // SAFETY: the task borrows `f` and its job from this frame. This function neither
            // returns nor unwinds (the caller's own jobs run under catch_unwind) before every
            // task handed out has reported on `done_rx`, which a task does as its last act,
            // after its job is dropped; a task its worker cannot take is run right here.
            let task: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(task) };
            worker.send(task);
        }
    });
    drop(done_tx);
    // the first job, and any the pool could not take, on the calling thread
    let own = panic::catch_unwind(AssertUnwindSafe(|| {
        f(first);
        rest.for_each(f);
    }));
    let mut panicked = own.err();
    for _ in 0..sent {
        match done_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(payload)) => panicked = panicked.or(Some(payload)),
            Err(_) => unreachable!("every task sent reports before it drops its sender"),
        }
    }
    if let Some(payload) = panicked {
        panic::resume_unwind(payload);
    }
}

/// The calling thread's workers: threads that wait for tasks (one at a time, in order) and live
/// as long as the thread that made them. A region costs a channel send and a wake-up per worker
/// instead of a thread spawn (`cargo run --release --example sync_cost`). Each thread has its
/// own pool, so the runs of a sweep's jobs never queue behind each other.
mod pool {
    use std::cell::RefCell;
    use std::sync::mpsc;

    pub type Task = Box<dyn FnOnce() + Send + 'static>;

    pub struct Worker {
        tasks: mpsc::Sender<Task>,
    }

    impl Worker {
        fn spawn() -> Option<Worker> {
            let (tasks, inbox) = mpsc::channel::<Task>();
            std::thread::Builder::new()
                .name("rnnlab-worker".into())
                .spawn(move || {
                    // ends when the owning thread's pool is dropped (its senders with it)
                    while let Ok(task) = inbox.recv() {
                        task();
                    }
                })
                .ok()?;
            Some(Worker { tasks })
        }

        /// Queues `task`; if the worker is gone (it cannot be: tasks catch their panics), runs
        /// it on the calling thread.
        pub fn send(&self, task: Task) {
            if let Err(mpsc::SendError(task)) = self.tasks.send(task) {
                task();
            }
        }
    }

    thread_local! {
        static WORKERS: RefCell<Vec<Worker>> = const { RefCell::new(Vec::new()) };
    }

    /// Calls `f` with `n` workers of the calling thread (fewer if the system refuses threads:
    /// the caller then runs the jobs left over).
    pub fn with_workers(n: usize, f: impl FnOnce(&[Worker])) {
        WORKERS.with(|cell| {
            // `f` only queues tasks, so the pool is never borrowed twice; should it be, fresh
            // threads serve
            let Ok(mut workers) = cell.try_borrow_mut() else {
                let extra: Vec<Worker> = (0..n).filter_map(|_| Worker::spawn()).collect();
                f(&extra);
                return;
            };
            while workers.len() < n {
                match Worker::spawn() {
                    Some(w) => workers.push(w),
                    None => break,
                }
            }
            let k = n.min(workers.len());
            f(&workers[..k]);
        })
    }
}

/// Splits a view into consecutive pieces along `axis` with the lengths of `ranges`.
pub fn split_mut<'a, A, D: ndarray::Dimension>(
    view: ndarray::ArrayViewMut<'a, A, D>,
    axis: Axis,
    ranges: &[Range<usize>],
) -> Vec<ndarray::ArrayViewMut<'a, A, D>> {
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = view;
    for r in ranges {
        let (head, tail) = rest.split_at(axis, r.len());
        out.push(head);
        rest = tail;
    }
    out
}

/// [`split_mut`] for shared views.
pub fn split<'a, A, D: ndarray::Dimension>(
    view: ndarray::ArrayView<'a, A, D>,
    axis: Axis,
    ranges: &[Range<usize>],
) -> Vec<ndarray::ArrayView<'a, A, D>> {
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = view;
    for r in ranges {
        let (head, tail) = rest.split_at(axis, r.len());
        out.push(head);
        rest = tail;
    }
    out
}

/// `c ← a b` (`beta` 0) or `c ← c + a b` (`beta` 1) with the rows of c (and a) split across
/// threads when the product is large enough. Every element of c is computed by the same kernel
/// over the same k order whatever the split, so the result is the same bit for bit.
pub fn mat_mul<F: NdFloat>(
    a: &ArrayView2<'_, F>,
    b: &ArrayView2<'_, F>,
    beta: F,
    c: &mut ArrayViewMut2<'_, F>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let parts = plan(m, m.saturating_mul(k).saturating_mul(n));
    if parts <= 1 {
        ndarray::linalg::general_mat_mul(F::one(), a, b, beta, c);
        return;
    }
    let rs = ranges(m, parts);
    let jobs: Vec<_> = split(a.view(), Axis(0), &rs)
        .into_iter()
        .zip(split_mut(c.view_mut(), Axis(0), &rs))
        .collect();
    run(jobs, |(a, mut c)| {
        ndarray::linalg::general_mat_mul(F::one(), &a, b, beta, &mut c)
    });
}

/// Σ over the rows of `a` (its column sums), the columns split across threads when large
/// enough: each column is summed row after row in order, as `sum_axis(Axis(0))` does, so the
/// result is the same bit for bit.
pub fn column_sums<F: NdFloat>(a: &ArrayView2<'_, F>) -> ndarray::Array1<F> {
    let (m, n) = a.dim();
    // one add per entry: a memory-bound pass
    let parts = plan_elementwise(n, m.saturating_mul(n));
    if parts <= 1 {
        return a.sum_axis(Axis(0));
    }
    let mut out = ndarray::Array1::<F>::zeros(n);
    let rs = ranges(n, parts);
    let jobs: Vec<_> = split(a.view(), Axis(1), &rs)
        .into_iter()
        .zip(split_mut(out.view_mut(), Axis(0), &rs))
        .collect();
    run(jobs, |(a, mut o)| o.assign(&a.sum_axis(Axis(0))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_rows_in_order() {
        for rows in 1..20 {
            for parts in 1..25 {
                let rs = ranges(rows, parts);
                assert_eq!(rs.len(), parts.min(rows));
                assert_eq!(rs[0].start, 0);
                assert_eq!(rs.last().unwrap().end, rows);
                assert!(rs.windows(2).all(|w| w[0].end == w[1].start));
                assert!(rs.iter().all(|r| !r.is_empty()));
            }
        }
    }

    #[test]
    fn split_products_are_bit_identical() {
        use ndarray::Array2;
        for &(m, k, n) in &[(1, 3, 5), (7, 300, 13), (1000, 257, 33), (4096, 100, 200)] {
            let at = Array2::from_shape_fn((k, m), |(j, i)| ((i * 31 + j * 17) % 97) as f32 / 7.0);
            // column-major A, as the weight-gradient products read d_pre^T
            let a = at.t();
            let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * 13 + j * 29) % 89) as f32 / 9.0);
            let c0 = Array2::from_shape_fn((m, n), |(i, j)| (i as f32 - j as f32) / 3.0);
            let mut want = c0.clone();
            ndarray::linalg::general_mat_mul(1.0, &a, &b, 1.0, &mut want);
            for threads in [2, 3, 5] {
                let mut got = c0.clone();
                with_threads(threads, || {
                    let parts = ranges(m, threads);
                    let jobs: Vec<_> = split(a.view(), Axis(0), &parts)
                        .into_iter()
                        .zip(split_mut(got.view_mut(), Axis(0), &parts))
                        .collect();
                    run(jobs, |(a, mut c)| {
                        ndarray::linalg::general_mat_mul(1.0, &a, &b.view(), 1.0, &mut c)
                    });
                });
                assert_eq!(got, want, "{m}×{k}×{n} on {threads} threads");
                let mut got = c0.clone();
                with_threads(threads, || {
                    mat_mul(&a.view(), &b.view(), 1.0, &mut got.view_mut())
                });
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn split_column_sums_are_bit_identical() {
        let a = ndarray::Array2::from_shape_fn((3000, 300), |(i, j)| {
            ((i * 7 + j * 13) % 101) as f32 / 3.0 - 10.0
        });
        let want = a.sum_axis(Axis(0));
        for threads in [2, 3, 7] {
            let got = with_threads(threads, || {
                set_min_work(1);
                let got = column_sums(&a.view());
                set_min_work(MIN_WORK_PER_THREAD);
                got
            });
            assert_eq!(got, want);
        }
    }

    #[test]
    fn every_job_runs_once_on_borrowed_data_region_after_region() {
        let mut out = vec![0usize; 7];
        for round in 0..500 {
            let rs = ranges(out.len(), 4);
            let jobs: Vec<_> = rs
                .iter()
                .cloned()
                .zip(split_mut(
                    ndarray::ArrayViewMut1::from(&mut out[..]),
                    Axis(0),
                    &rs,
                ))
                .collect();
            run(jobs, |(range, mut piece)| {
                for (i, v) in range.zip(piece.iter_mut()) {
                    *v += i + round;
                }
            });
        }
        let want: Vec<usize> = (0..7).map(|i| 500 * i + 499 * 500 / 2).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn a_panicking_job_is_re_raised_after_the_others_finish_and_the_pool_lives_on() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let finished = AtomicUsize::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            run((0..4).collect(), |i: usize| {
                if i == 2 {
                    panic!("job {i} fails");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                finished.fetch_add(1, Ordering::SeqCst);
            })
        }));
        let payload = result.unwrap_err();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "job 2 fails");
        assert_eq!(finished.load(Ordering::SeqCst), 3);
        // the same workers serve the next region
        let count = AtomicUsize::new(0);
        run((0..4).collect(), |_: usize| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn regions_nest_and_threads_have_their_own_pools() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let count = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    run((0..3).collect(), |_: usize| {
                        run((0..3).collect(), |_: usize| {
                            count.fetch_add(1, Ordering::SeqCst);
                        });
                    });
                });
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 27);
    }

    #[test]
    fn with_threads_restores_the_setting() {
        assert_eq!(threads(), 1);
        with_threads(4, || assert_eq!(threads(), 4));
        assert_eq!(threads(), 1);
        set_threads(0);
        assert_eq!(threads(), 1);
    }
}
