//! `rnnlab sweep --slurm` against a real Slurm (issue 20): `ci/slurm-up.sh` starts a one-node
//! cluster on this machine. The tests that submit run when `sbatch` and the controller answer;
//! with `CI=true` and no Slurm they fail (CI must not skip them); elsewhere they say that they
//! skipped. The bad-input tests that need no scheduler always run.
//!
//! One grid throughout: 3 cells × 2 lengths × 2 seeds, 300 steps (about half a second a run),
//! as 4 array tasks. The submitting tests take one lock: the node has the machine's cores.

mod common;

use common::{bin, ok, text, usage_error};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const GRID: &[&str] = &[
    "sweep",
    "--cell",
    "rnn,lstm,gru",
    "--length",
    "5,10",
    "--seeds",
    "2",
    "--steps",
    "300",
];
/// How long a submitted sweep may take to be merged.
const MERGE_DEADLINE: Duration = Duration::from_secs(120);

static NODE: Mutex<()> = Mutex::new(());

/// Whether Slurm answers here; with `CI=true` a Slurm that does not answer fails the test.
fn slurm_answers() -> bool {
    let answers = Command::new("sinfo")
        .args(["--noheader", "--format=%t"])
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("sbatch")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !answers {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but Slurm does not answer (sinfo/sbatch); .ci/run starts it with ci/slurm-up.sh"
        );
        eprintln!("skipped: no Slurm here (sbatch/sinfo do not answer); ci/slurm-up.sh starts one");
    }
    answers
}

fn grid(extra: &[&str]) -> Vec<String> {
    GRID.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn run_in(dir: &Path, args: &[String]) -> String {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(dir, &refs)
}

/// The rows of a results file without the wall-time column (the only one that may differ).
fn rows_without_wall_time(path: &Path) -> Vec<String> {
    let content =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = content.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let wall = header
        .iter()
        .position(|c| *c == "wall_seconds")
        .expect("a wall_seconds column");
    std::iter::once(header.join(","))
        .chain(lines.map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "a whole row: {l}");
            f.remove(wall);
            f.join(",")
        }))
        .map(|l| l.to_string())
        .collect()
}

/// The local `--jobs 2` sweep of the grid, run once.
fn local_rows() -> &'static Vec<String> {
    static LOCAL: OnceLock<(tempfile::TempDir, Vec<String>)> = OnceLock::new();
    &LOCAL
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let out = tmp.path().join("local");
            run_in(
                tmp.path(),
                &grid(&["--jobs", "2", "--quiet", "--out", out.to_str().unwrap()]),
            );
            let rows = rows_without_wall_time(&out.join("results.csv"));
            assert_eq!(rows.len(), 13, "a header and 12 rows");
            (tmp, rows)
        })
        .1
}

/// `array job N` / `merge job M` of a submission's output.
fn job_id(stdout: &str, what: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        l.strip_prefix(&format!("{what} job "))
            .and_then(|r| r.split([':', ' ']).next())
            .map(str::to_string)
    })
}

/// Our jobs still in the queue (job ids of `jobs`, tasks included).
fn in_queue(jobs: &[String]) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["--noheader", "--array", "--format=%F %i %T"])
        .output()
        .expect("squeue runs");
    text(&out.stdout)
        .lines()
        .filter(|l| jobs.iter().any(|j| l.split(' ').next() == Some(j.as_str())))
        .map(str::to_string)
        .collect()
}

/// Waits, bounded, until none of `jobs` is in the queue.
fn wait_for(jobs: &[String], deadline: Duration) {
    let start = Instant::now();
    loop {
        let left = in_queue(jobs);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < deadline,
            "still queued after {deadline:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn submit(dir: &Path, out: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let mut args = grid(&["--slurm", "--tasks", "4", "--out", out.to_str().unwrap()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let stdout = run_in(dir, &args);
    let jobs: Vec<String> = ["array", "merge"]
        .iter()
        .filter_map(|w| job_id(&stdout, w))
        .collect();
    (stdout, jobs)
}

fn shard_rows(out: &Path, i: usize) -> usize {
    std::fs::read_to_string(out.join(format!("shards/shard-{i}-of-4/results.csv")))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn an_array_of_four_tasks_merges_to_the_local_sweeps_rows() {
    if !slurm_answers() {
        return;
    }
    let local = local_rows().clone();
    let _node = NODE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("on-slurm");
    let (stdout, jobs) = submit(tmp.path(), &out, &["--array-limit", "2"]);
    assert!(stdout.contains("12 runs in 4 tasks"), "{stdout}");
    assert_eq!(jobs.len(), 2, "an array and a merge job: {stdout}");
    for script in ["slurm/array.sbatch", "slurm/merge.sbatch"] {
        assert!(out.join(script).is_file(), "{script}");
    }
    let array = std::fs::read_to_string(out.join("slurm/array.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=0-3%2"), "{array}");
    assert!(
        array.contains(env!("CARGO_BIN_EXE_rnnlab")),
        "the running binary's absolute path: {array}"
    );
    wait_for(&jobs, MERGE_DEADLINE);
    assert_eq!(rows_without_wall_time(&out.join("results.csv")), local);
    assert!(
        out.join("report.md").is_file(),
        "merge + compare wrote the report"
    );
    for i in 0..4 {
        assert_eq!(shard_rows(&out, i), 3, "shard {i}");
    }
    let status = ok(tmp.path(), &["status", out.to_str().unwrap()]);
    assert!(status.contains("12 of 12 runs done, 12 merged"), "{status}");
    assert!(status.lines().any(|l| l == "complete"), "{status}");
    // the same command again: nothing to do, nothing submitted
    let (again, jobs) = submit(tmp.path(), &out, &["--array-limit", "2"]);
    assert!(again.contains("nothing submitted"), "{again}");
    assert!(jobs.is_empty(), "{again}");
}

#[test]
fn a_cancelled_task_is_resubmitted_and_completes_with_nothing_lost_or_doubled() {
    if !slurm_answers() {
        return;
    }
    let local = local_rows().clone();
    let _node = NODE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cancelled");
    // one task at a time: task 3 waits in the queue while task 0 runs
    let (stdout, jobs) = submit(tmp.path(), &out, &["--array-limit", "1"]);
    let array = job_id(&stdout, "array").expect("an array job");
    let scancel = |task: usize| {
        Command::new("scancel")
            .arg(format!("{array}_{task}"))
            .status()
            .expect("scancel runs")
            .success()
    };
    assert!(scancel(3), "task 3 is pending");
    // task 0 killed in the middle of its shard: after its first row, before its last
    let start = Instant::now();
    let mut killed_mid_shard = None;
    while start.elapsed() < MERGE_DEADLINE {
        let rows = shard_rows(&out, 0);
        if rows >= 1 {
            // (the task may finish between the look and the kill: then nothing was cut short)
            if rows < 3 && scancel(0) {
                killed_mid_shard = Some(rows);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // the merge job cannot run (a task did not succeed): Slurm cancels it
    wait_for(&jobs, MERGE_DEADLINE);
    assert!(
        !out.join("results.csv").exists(),
        "no merge after a cancelled task"
    );
    let kept = shard_rows(&out, 0);
    eprintln!("task 0 cancelled after {killed_mid_shard:?} rows; {kept} kept");
    if let Some(rows) = killed_mid_shard {
        // a kill loses at most the runs in flight: the rows written before it stay
        assert!(
            kept >= rows,
            "{kept} rows kept, {rows} seen before the kill"
        );
    }
    assert_eq!(shard_rows(&out, 3), 0, "task 3 never ran");
    let status = ok(tmp.path(), &["status", out.to_str().unwrap()]);
    assert!(status.contains("3,0,3,"), "{status}");
    assert!(status.contains("stopped"), "{status}");
    assert!(status.contains("the same rnnlab sweep"), "{status}");
    // what a kill in the middle of rewriting results.csv leaves: a partial temporary file
    let shard0 = out.join("shards/shard-0-of-4");
    if shard0.is_dir() {
        std::fs::write(shard0.join("results.tmp"), "task,cell,length\ntanaka,ls").unwrap();
    }

    let (again, jobs) = submit(tmp.path(), &out, &["--array-limit", "1"]);
    let incomplete: Vec<usize> = (0..4).filter(|&i| shard_rows(&out, i) < 3).collect();
    assert!(!incomplete.is_empty());
    let named = format!(
        "shard{} {} to run",
        if incomplete.len() == 1 { "" } else { "s" },
        ranges(&incomplete)
    );
    assert!(again.contains(&named), "{named}: {again}");
    let script = std::fs::read_to_string(out.join("slurm/array.sbatch")).unwrap();
    assert!(
        !script.contains("--array=0-3"),
        "only the incomplete shards: {script}"
    );
    wait_for(&jobs, MERGE_DEADLINE);
    let merged = rows_without_wall_time(&out.join("results.csv"));
    assert_eq!(
        merged, local,
        "every run once, each equal to the local run's row"
    );
    for i in 0..4 {
        let rows = rows_without_wall_time(&out.join(format!("shards/shard-{i}-of-4/results.csv")));
        assert_eq!(rows.len(), 4, "shard {i}: a header and its 3 rows");
    }
    let status = ok(tmp.path(), &["status", out.to_str().unwrap()]);
    assert!(status.contains("12 of 12 runs done, 12 merged"), "{status}");
}

#[test]
fn a_task_that_finds_its_shard_locked_writes_nothing_and_the_resubmission_completes() {
    if !slurm_answers() {
        return;
    }
    let local = local_rows().clone();
    let _node = NODE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("locked");
    // one task at a time, so shard 3 starts last: by then this process holds its lock, as a
    // second writer of the same shard (a task requeued while the first still runs) would
    let (_, jobs) = submit(tmp.path(), &out, &["--array-limit", "1"]);
    let shard3 = out.join("shards/shard-3-of-4");
    rnnlab::outdir::claim(&shard3, rnnlab::outdir::DirKind::Sweep).unwrap();
    let held = rnnlab::outdir::lock(&shard3).unwrap();
    wait_for(&jobs, MERGE_DEADLINE);
    assert_eq!(shard_rows(&out, 3), 0, "the locked-out task wrote no row");
    assert!(!shard3.join("results.csv").exists());
    assert!(
        !out.join("results.csv").exists(),
        "no merge after a failed task"
    );
    let status = ok(tmp.path(), &["status", out.to_str().unwrap()]);
    assert!(status.contains("3,0,3,"), "{status}");
    assert!(
        status.contains("is being written by rnnlab process"),
        "{status}"
    );
    drop(held);
    let (again, jobs) = submit(tmp.path(), &out, &["--array-limit", "1"]);
    assert!(again.contains("shard 3 to run"), "{again}");
    wait_for(&jobs, MERGE_DEADLINE);
    assert_eq!(rows_without_wall_time(&out.join("results.csv")), local);
}

/// Runs `rnnlab args…` with `PATH` replaced; must be a usage error.
fn usage_error_with_path(dir: &Path, path: &Path, args: &[String]) -> String {
    let o = bin()
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn bad_slurm_input_is_one_line_exit_2_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = dir.join("sw");
    let o = out.to_str().unwrap();
    let case = |extra: &[&str]| {
        let mut a = grid(&["--out", o]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let refs = |a: &[String]| a.iter().map(String::to_string).collect::<Vec<_>>();
    let err = |extra: &[&str]| {
        let a = refs(&case(extra));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        usage_error(dir, &a)
    };
    // without a scheduler on PATH
    let empty = dir.join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let e = usage_error_with_path(dir, &empty, &case(&["--slurm"]));
    assert!(e.contains("sbatch is not on PATH"), "{e}");
    assert!(!out.exists(), "nothing written");
    // refused before any scheduler is asked
    let e = err(&["--slurm-dry-run", "--tasks", "0"]);
    assert!(e.contains("tasks") && e.contains("at least 1"), "{e}");
    let e = err(&["--slurm-dry-run", "--tasks", "13"]);
    assert!(e.contains("tasks") && e.contains("12 runs"), "{e}");
    let e = err(&["--slurm-dry-run", "--mem", "1M"]);
    assert!(
        e.contains("invalid mem:") && e.contains("raise --mem"),
        "{e}"
    );
    let e = err(&["--slurm-dry-run", "--mem", "lots"]);
    assert!(e.contains("--mem"), "{e}");
    let e = err(&["--tasks", "4"]);
    assert!(e.contains("--tasks") && e.contains("--slurm"), "{e}");
    let e = err(&["--slurm-dry-run", "--shard", "0/2"]);
    assert!(e.contains("--shard and --slurm"), "{e}");
    let e = err(&["--slurm-dry-run", "--time", "soon"]);
    assert!(e.contains("--time"), "{e}");
    let e = err(&["--slurm-dry-run", "--partition", "a b"]);
    assert!(e.contains("--partition"), "{e}");
    assert!(!out.exists(), "nothing written");
    // a sweep directory the tasks cannot write: under a file, or where nothing can be made
    let file = dir.join("a-file");
    std::fs::write(&file, "mine\n").unwrap();
    let under = file.join("sw");
    let a = grid(&["--slurm-dry-run", "--out", under.to_str().unwrap()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let e = usage_error(dir, &a);
    assert!(e.contains("invalid out:"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine\n");
    let a = grid(&["--slurm-dry-run", "--out", "/proc/rnnlab-sweep"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let e = usage_error(dir, &a);
    assert!(e.contains("invalid out:"), "{e}");

    // status of what is not a sweep directory
    let e = usage_error(dir, &["status", "nowhere"]);
    assert!(
        e.contains("nowhere") && e.contains("not a sweep directory"),
        "{e}"
    );
    // and of a sweep run here, not through Slurm
    let plain = dir.join("plain");
    let p = plain.to_str().unwrap();
    ok(
        dir,
        &[
            "sweep", "--cell", "rnn", "--length", "5", "--steps", "5", "--seed", "0", "--quiet",
            "--out", p,
        ],
    );
    let e = usage_error(dir, &["status", p]);
    assert!(e.contains("not submitted with --slurm"), "{e}");

    // a resubmission with another grid into the same directory
    let first = case(&["--slurm-dry-run", "--tasks", "4"]);
    run_in(dir, &first);
    let before = snapshot(&out);
    let mut other: Vec<String> = first
        .iter()
        .map(|a| {
            if a == "300" {
                "301".to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    assert_ne!(other, first);
    let e = {
        let a: Vec<&str> = other.iter().map(String::as_str).collect();
        usage_error(dir, &a)
    };
    assert!(e.contains("holds another experiment"), "{e}");
    assert_eq!(snapshot(&out), before, "nothing of the sweep changed");
    // and with another task count
    other = case(&["--slurm-dry-run", "--tasks", "3"]);
    let a: Vec<&str> = other.iter().map(String::as_str).collect();
    let e = usage_error(dir, &a);
    assert!(e.contains("already split into 4 tasks"), "{e}");
    assert_eq!(snapshot(&out), before);
}

#[test]
fn an_unreachable_controller_is_refused_before_anything_is_written() {
    if !slurm_answers() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = std::fs::read_to_string(
        std::env::var("SLURM_CONF").unwrap_or_else(|_| "/etc/slurm/slurm.conf".into()),
    )
    .expect("the slurm.conf sinfo reads");
    // the same cluster, a port nobody listens on
    let bad: String = conf
        .lines()
        .filter(|l| !l.starts_with("SlurmctldPort"))
        .map(|l| format!("{l}\n"))
        .chain(std::iter::once("SlurmctldPort=6999\n".to_string()))
        .collect();
    let conf_path = tmp.path().join("slurm.conf");
    std::fs::write(&conf_path, bad).unwrap();
    let out = tmp.path().join("sw");
    let o = bin()
        .args(grid(&["--slurm", "--out", out.to_str().unwrap()]))
        .current_dir(tmp.path())
        .env("SLURM_CONF", &conf_path)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("controller does not answer"), "{err}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_dry_run_writes_the_scripts_and_submits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dry");
    // no scheduler needed: PATH holds no sbatch
    let o = bin()
        .args(grid(&[
            "--slurm-dry-run",
            "--tasks",
            "4",
            "--cpus-per-task",
            "2",
            "--partition",
            "short",
            "--account",
            "lab",
            "--time",
            "1:00:00",
            "--out",
            out.to_str().unwrap(),
        ]))
        .current_dir(tmp.path())
        .env("PATH", tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let array = std::fs::read_to_string(out.join("slurm/array.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --partition=short",
        "#SBATCH --account=lab",
        "#SBATCH --time=1:00:00",
        "--jobs 2 --threads 1",
        "--shard \"$SLURM_ARRAY_TASK_ID/4\"",
    ] {
        assert!(array.contains(line), "{line}: {array}");
        assert!(stdout.contains(line), "printed: {line}");
    }
    let merge = std::fs::read_to_string(out.join("slurm/merge.sbatch")).unwrap();
    assert!(merge.contains("--kill-on-invalid-dep=yes"), "{merge}");
    assert!(merge.contains("shard-3-of-4"), "{merge}");
    assert!(stdout.contains("not submitted"), "{stdout}");
    assert!(!out.join("slurm/jobs.csv").exists(), "no job recorded");
    // the experiment the tasks run is the grid's
    let listed = ok(
        tmp.path(),
        &[
            "sweep",
            "--config",
            out.join("experiment.ron").to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(listed.contains(": 12 runs into"), "{listed}");
}

/// `0-1,3`: shard lists as rnnlab prints them (Slurm's --array syntax).
fn ranges(v: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", v[i], v[j])
        } else {
            v[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}
