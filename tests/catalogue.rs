//! Issue 8's catalogue: bad inputs and faults across every subcommand, each run as a user runs it
//! (the real binary, its working directory and HOME inside a sandbox), each asserting the exit
//! code, a stderr line that names the field, file or option, no panic, and that no file outside
//! the case's own output directory changed.
//!
//! Sizes near 2^64 are refused by the memory estimates (`rnnlab::resources`).

mod common;

use common::{bin, text};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The sandbox: HOME, the working directory and a directory "outside" that links may point to.

struct Sandbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    work: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let (home, work, outside) = (root.join("home"), root.join("work"), root.join("outside"));
        for (path, content) in [
            ("home/.profile", "export EDITOR=vi\n"),
            (
                "home/thesis/chapter1.txt",
                "It was a dark and stormy night.\n",
            ),
            ("work/notes.txt", "my notes\n"),
            ("work/mydata/points.csv", "x,y\n1,2\n"),
            ("outside/secret.txt", "not for rnnlab\n"),
            ("outside/sub/deep.txt", "deeper\n"),
        ] {
            write(&root.join(path), content.as_bytes());
        }
        copy_tree(fixtures(), &work);
        Sandbox {
            _tmp: tmp,
            root,
            home,
            work,
            outside,
        }
    }

    /// A path inside the working directory.
    fn w(&self, rel: &str) -> PathBuf {
        self.work.join(rel)
    }

    /// Replaces `$HOME`, `$WORK`, `$ROOT` and `$OUTSIDE` in an argument.
    fn expand(&self, arg: &str) -> String {
        arg.replace("$HOME", &self.home.display().to_string())
            .replace("$WORK", &self.work.display().to_string())
            .replace("$ROOT", &self.root.display().to_string())
            .replace("$OUTSIDE", &self.outside.display().to_string())
    }

    /// The binary with HOME in the sandbox, `cwd` (relative to the working directory) as its
    /// working directory and no RUST_BACKTRACE, so a panic would show its usual note.
    fn command(&self, cwd: &str, args: &[String]) -> Command {
        let mut cmd = bin();
        cmd.args(args)
            .current_dir(self.work.join(cwd))
            .env("HOME", &self.home)
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        cmd
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Copies a tree, symbolic links as links.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let t = entry.file_type().unwrap();
        if t.is_symlink() {
            symlink(&std::fs::read_link(&src).unwrap(), &dst);
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures made once with the binary itself: a training run, a sweep, dataset files.

const TRAIN: &[&str] = &[
    "--steps",
    "2",
    "--hidden",
    "4",
    "--eval-size",
    "8",
    "--probe-size",
    "2",
    "--length",
    "5",
    "--batch",
    "4",
    "--quiet",
];

const SWEEP: &[&str] = &[
    "--cell",
    "rnn,gru",
    "--length",
    "3",
    "--seeds",
    "2",
    "--hidden",
    "4",
    "--batch",
    "4",
    "--steps",
    "2",
    "--eval-size",
    "8",
    "--probe-size",
    "2",
    "--quiet",
];

/// A tiny experiment file with `name` and `variants` (RON text of the list's items).
fn experiment(name: &str, variants: &str) -> String {
    format!(
        "(name: {name:?}, base: (model: (hidden: 4), steps: 2, batch: 4, eval_size: 8, probe_size: 2),\n grid: {{\"cell\": [\"rnn\"], \"length\": [3]}},\n variants: [{variants}])\n"
    )
}

fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("catalogue-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: Vec<&str>| {
            let out = bin().args(&args).current_dir(&dir).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        };
        run([&["train"], TRAIN, &["--out", "run"]].concat());
        run([&["sweep"], SWEEP, &["--out", "sw"]].concat());
        run(vec![
            "data", "generate", "--task", "copy", "--length", "3", "--count", "4", "--out",
            "copy.ron",
        ]);
        run(vec![
            "data",
            "generate",
            "--task",
            "tanaka",
            "--length",
            "5",
            "--count",
            "4",
            "--out",
            "tanaka.ron",
        ]);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(
            root.join("datasets/experiments/gates.ron"),
            dir.join("gates.ron"),
        )
        .unwrap();
        write(&dir.join("tiny.ron"), experiment("tiny", "").as_bytes());
        dir
    })
}

// ---------------------------------------------------------------------------------------------
// Snapshots of the sandbox: every path with its kind, size, mtime and content hash.

#[derive(Debug, PartialEq, Eq, Clone)]
enum Entry {
    Dir,
    File {
        size: u64,
        mtime: (i64, i64),
        hash: u64,
    },
    Link(PathBuf),
}

type Snapshot = BTreeMap<PathBuf, Entry>;

fn snapshot(root: &Path, exclude: Option<&Path>) -> Snapshot {
    let mut snap = Snapshot::new();
    walk(root, exclude, &mut snap);
    snap
}

fn walk(dir: &Path, exclude: Option<&Path>, snap: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if exclude.is_some_and(|e| path.starts_with(e)) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let t = meta.file_type();
        if t.is_symlink() {
            snap.insert(
                path.clone(),
                Entry::Link(std::fs::read_link(&path).unwrap()),
            );
        } else if t.is_dir() {
            snap.insert(path.clone(), Entry::Dir);
            walk(&path, exclude, snap);
        } else {
            use std::os::unix::fs::MetadataExt;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&path).unwrap_or_default().hash(&mut h);
            snap.insert(
                path,
                Entry::File {
                    size: meta.len(),
                    mtime: (meta.mtime(), meta.mtime_nsec()),
                    hash: h.finish(),
                },
            );
        }
    }
}

/// The differences between two snapshots, one line each.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (path, e) in before {
        // the lock file of a sweep directory records the pid of its last writer: rewriting it is
        // part of locking; creating or removing it would still show
        let lock = path.file_name().is_some_and(|n| n == ".rnnlab-lock");
        match after.get(path) {
            None => out.push(format!("removed {}", path.display())),
            Some(a) if a != e && !lock => out.push(format!("changed {}", path.display())),
            _ => {}
        }
    }
    for path in after.keys() {
        if !before.contains_key(path) {
            out.push(format!("created {}", path.display()));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running a child with a deadline; its output goes to files outside the sandbox.

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Ran {
    let logs = tempfile::tempdir().unwrap();
    let (o, e) = (logs.path().join("out"), logs.path().join("err"));
    cmd.stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    let mut child = cmd.spawn().expect("the binary runs");
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Ran {
        code: status.code(),
        stdout: read(&o),
        stderr: read(&e),
        timed_out,
    }
}

/// Checks stderr for the marks of a panic or an abort.
fn panic_marks(stderr: &str) -> Option<&'static str> {
    [
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        "memory allocation of",
        "stack overflow",
    ]
    .into_iter()
    .find(|m| stderr.contains(m))
}

// ---------------------------------------------------------------------------------------------
// The table.

type Setup = Box<dyn Fn(&Sandbox)>;

struct Case {
    category: &'static str,
    name: String,
    args: Vec<String>,
    cwd: &'static str,
    setup: Option<Setup>,
    code: i32,
    /// Substrings the stderr line must hold (after `$HOME`… expansion).
    needles: Vec<String>,
    /// The case's own output directory (relative to the working directory): a path it may create
    /// if it did not exist before. A path that existed before is compared like everything else.
    out: Option<String>,
    /// What the case's own output must (not) hold, checked after it ran.
    check: Option<Setup>,
}

fn case(category: &'static str, code: i32, needles: &[&str], args: &[&str]) -> Case {
    Case {
        category,
        name: args.join(" "),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: "",
        setup: None,
        code,
        needles: needles.iter().map(|s| s.to_string()).collect(),
        out: None,
        check: None,
    }
}

impl Case {
    fn setup(mut self, f: impl Fn(&Sandbox) + 'static) -> Case {
        self.setup = Some(Box::new(f));
        self
    }
    fn cwd(mut self, cwd: &'static str) -> Case {
        self.cwd = cwd;
        self
    }
    fn out(mut self, out: &str) -> Case {
        self.out = Some(out.to_string());
        self
    }
    fn check(mut self, f: impl Fn(&Sandbox) + 'static) -> Case {
        self.check = Some(Box::new(f));
        self
    }
    fn named(mut self, name: &str) -> Case {
        self.name = name.to_string();
        self
    }
}

/// `rnnlab <command> <tiny defaults…> <over…>`: the defaults of `defaults` whose option `over`
/// also gives are left out, so that `over` sets any value.
fn tiny(command: &[&str], defaults: &[&str], over: &[&str]) -> Vec<String> {
    let given: Vec<&str> = over
        .iter()
        .copied()
        .filter(|a| a.starts_with("--"))
        .collect();
    let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    let mut i = 0;
    while i < defaults.len() {
        let flag = defaults[i];
        let takes_value = i + 1 < defaults.len() && !defaults[i + 1].starts_with("--");
        let n = if takes_value { 2 } else { 1 };
        if !given.contains(&flag) {
            args.extend(defaults[i..i + n].iter().map(|s| s.to_string()));
        }
        i += n;
    }
    args.extend(over.iter().map(|s| s.to_string()));
    args
}

fn train(code: i32, needles: &[&str], over: &[&str]) -> Case {
    let mut over = over.to_vec();
    if !over.contains(&"--out") {
        over.extend(["--out", "o"]);
    }
    let args = tiny(&["train"], TRAIN, &over);
    let out = over[over.iter().position(|a| *a == "--out").unwrap() + 1];
    let mut c = case("numbers", code, needles, &[]);
    c.name = args.join(" ");
    c.args = args;
    c.out(out)
}

fn gradients(code: i32, needles: &[&str], over: &[&str]) -> Case {
    let mut over = over.to_vec();
    if !over.contains(&"--out") {
        over.extend(["--out", "g"]);
    }
    let defaults = [
        "--hidden",
        "4",
        "--length",
        "5",
        "--eval-size",
        "8",
        "--probe-size",
        "2",
    ];
    let args = tiny(&["gradients"], &defaults, &over);
    let out = over[over.iter().position(|a| *a == "--out").unwrap() + 1];
    let mut c = case("numbers", code, needles, &[]);
    c.name = args.join(" ");
    c.args = args;
    c.out(out)
}

fn sweep(code: i32, needles: &[&str], over: &[&str]) -> Case {
    let mut over = over.to_vec();
    if !over.contains(&"--out") {
        over.extend(["--out", "s"]);
    }
    let args = tiny(&["sweep"], SWEEP, &over);
    let out = over[over.iter().position(|a| *a == "--out").unwrap() + 1];
    let mut c = case("numbers", code, needles, &[]);
    c.name = args.join(" ");
    c.args = args;
    c.out(out)
}

fn in_category(mut cases: Vec<Case>, category: &'static str) -> Vec<Case> {
    for c in &mut cases {
        c.category = category;
    }
    cases
}

const HUGE: &str = "18446744073709551615";
const OVER_U64: &str = "18446744073709551616";

fn numeric_cases() -> Vec<Case> {
    let mut v = vec![
        train(2, &["hidden"], &["--hidden", "0"]),
        // checkpointed BPTT's memory setting (issue 19)
        train(2, &["bptt-memory"], &["--bptt-memory", "0"]),
        train(2, &["bptt-memory"], &["--bptt-memory", "garbage"]),
        train(
            2,
            &["bptt-memory", "smallest budget"],
            &["--bptt-memory", "1K"],
        ),
        train(2, &["--hidden"], &["--hidden", "-1"]),
        train(2, &["--hidden"], &["--hidden", OVER_U64]),
        train(2, &["--hidden"], &["--hidden", "1e308"]),
        train(2, &["--hidden"], &["--hidden", "NaN"]),
        train(2, &["length"], &["--length", "0"]),
        train(2, &["--length"], &["--length", "-1"]),
        train(2, &["batch"], &["--batch", "0"]),
        train(2, &["--batch"], &["--batch", "1e308"]),
        train(2, &["--batch"], &["--batch", "-1"]),
        train(2, &["eval_size"], &["--eval-size", "0"]),
        train(2, &["--eval-size"], &["--eval-size", "-8"]),
        train(2, &["steps"], &["--steps", "0"]),
        train(2, &["--steps"], &["--steps", "-5"]),
        train(2, &["--steps"], &["--steps", "inf"]),
        train(2, &["lr"], &["--lr", "NaN"]),
        train(2, &["lr"], &["--lr", "inf"]),
        train(2, &["lr"], &["--lr", "-1"]),
        train(2, &["lr"], &["--lr", "0"]),
        train(2, &["clip"], &["--clip", "NaN"]),
        train(2, &["clip"], &["--clip", "-1"]),
        train(2, &["init"], &["--init-scale", "inf"]),
        train(2, &["init"], &["--recurrent-scale", "NaN"]),
        train(2, &["momentum"], &["--momentum", "-1"]),
        train(2, &["momentum"], &["--momentum", "1e308"]),
        train(2, &["forget_bias"], &["--forget-bias", "NaN"]),
        // chrono's T_max must be a number ≥ 2, and only gated cells take it
        train(2, &["chrono"], &["--chrono", "1"]),
        train(2, &["chrono"], &["--chrono", "NaN"]),
        train(2, &["chrono"], &["--chrono", "inf"]),
        train(2, &["chrono"], &["--chrono", "soon"]),
        train(
            2,
            &["chrono", "rnn"],
            &["--cell", "rnn", "--chrono", "auto"],
        ),
        train(
            2,
            &["forget_gate", "gru"],
            &["--cell", "gru", "--no-forget-gate"],
        ),
        // the orthogonal parameter's own learning rate: positive, and only for expRNN
        train(2, &["lr-orth"], &["--cell", "exprnn", "--lr-orth", "0"]),
        train(2, &["lr-orth"], &["--cell", "exprnn", "--lr-orth", "NaN"]),
        train(
            2,
            &["lr-orth", "lstm"],
            &["--cell", "lstm", "--lr-orth", "1e-4"],
        ),
        // the rotation schemes draw square matrices: recurrent weights only
        train(2, &["init.input", "henaff"], &["--input-init", "henaff"]),
        train(2, &["init.input", "cayley"], &["--init", "cayley"]),
        train(2, &["init.bias", "henaff"], &["--bias-init", "henaff"]),
        train(2, &["--history-every"], &["--history-every", "-1"]),
        train(
            2,
            &["--history-every", "auto"],
            &["--history-every", "soon"],
        ),
        train(2, &["--seed"], &["--seed", "-1"]),
        train(2, &["--seed"], &["--seed", OVER_U64]),
        train(2, &["layers"], &["--layers", "0"]),
        // the widths are the hidden sizes: the error names the field and the width
        train(2, &["hidden", "width 0"], &["--widths", "0:4"]),
        train(2, &["--out"], &["--out", ""]),
        // a huge learning rate is a run that diverges, not an error; it touches only its --out
        train(0, &[], &["--lr", "1e308"]),
        train(2, &["hidden"], &["--hidden", HUGE]),
        train(2, &["length"], &["--length", HUGE]),
        train(2, &["batch"], &["--batch", HUGE]),
        train(2, &["eval"], &["--eval-size", HUGE]),
        train(2, &["--steps"], &["--steps", OVER_U64]),
        gradients(2, &["hidden"], &["--hidden", "0"]),
        gradients(2, &["--length"], &["--length", "-3"]),
        gradients(2, &["probe_size"], &["--probe-size", "0"]),
        gradients(2, &["length"], &["--length", HUGE]),
        gradients(2, &["hidden"], &["--hidden", HUGE]),
        sweep(2, &["--seeds"], &["--seeds", "0"]),
        // the length search's bracket (issue 19)
        sweep(2, &["search-length"], &["--search-length", "50..5"]),
        sweep(2, &["search-length"], &["--search-length", "0..5"]),
        sweep(2, &["search-length"], &["--search-length", "five"]),
        sweep(2, &["search-length"], &["--search-length", "5..100000000"]),
        sweep(
            2,
            &["search-length"],
            &["--search-length", "5..50", "--length", "5,10"],
        ),
        sweep(2, &["--seeds"], &["--seeds", "-2"]),
        sweep(2, &["lr"], &["--lr", "NaN,0.1"]),
        sweep(2, &["hidden"], &["--hidden", "0"]),
        sweep(2, &["cell", "rnn"], &["--cell", "rnn,RNN"]),
        sweep(2, &["lr", "0.1"], &["--lr", "0.1,0.10"]),
        sweep(2, &["seeds", "at most"], &["--seeds", HUGE]),
        // the value named as typed, not rounded through a float
        sweep(2, &["length", HUGE], &["--length", &format!("5,{HUGE}")]),
        sweep(
            2,
            &["hidden", OVER_U64],
            &["--hidden", &format!("4,{OVER_U64}")],
        ),
        sweep(2, &["hidden"], &["--hidden", HUGE]),
    ];
    let data = |code, needles: &[&str], args: &[&str]| {
        case("numbers", code, needles, &[&["data"], args].concat())
    };
    v.extend([
        data(
            2,
            &["--count"],
            &[
                "generate", "--task", "copy", "--length", "3", "--count", "0", "--out", "d.ron",
            ],
        )
        .out("d.ron"),
        data(
            2,
            &["--count"],
            &[
                "generate", "--task", "copy", "--length", "3", "--count", "-1", "--out", "d.ron",
            ],
        )
        .out("d.ron"),
        data(
            2,
            &["--length"],
            &[
                "generate", "--task", "copy", "--length", "-3", "--count", "2", "--out", "d.ron",
            ],
        )
        .out("d.ron"),
        data(
            2,
            &["--count"],
            &[
                "generate", "--task", "copy", "--length", "3", "--count", "1e308", "--out", "d.ron",
            ],
        )
        .out("d.ron"),
        data(
            2,
            &["count"],
            &[
                "generate", "--task", "copy", "--length", "3", "--count", HUGE, "--out", "d.ron",
            ],
        )
        .out("d.ron"),
        data(
            2,
            &["length"],
            &[
                "generate", "--task", "tanaka", "--length", HUGE, "--count", "2", "--out", "d.ron",
            ],
        )
        .out("d.ron"),
        data(
            2,
            &["--count"],
            &["show", "--task", "copy", "--length", "3", "--count", "-1"],
        ),
        // (a --count of 2^64-1 is valid: show streams the sequences in constant memory)
        data(
            2,
            &["--count"],
            &[
                "show", "--task", "copy", "--length", "3", "--count", OVER_U64,
            ],
        ),
        data(
            2,
            &["--seed"],
            &["show", "--task", "copy", "--length", "3", "--seed", "NaN"],
        ),
        case("numbers", 2, &["--hidden"], &["bench", "--hidden", "0"]),
        case("numbers", 2, &["--hidden"], &["bench", "--hidden", "-1"]),
        case("numbers", 2, &["--hidden"], &["bench", "--hidden", "NaN"]),
        case(
            "numbers",
            2,
            &["--steps"],
            &["bench", "--hidden", "4", "--steps", "0"],
        ),
        case(
            "numbers",
            2,
            &["--batch"],
            &["bench", "--hidden", "4", "--batch", "0"],
        ),
        case("numbers", 2, &["--seed"], &["gradcheck", "--seed", "-1"]),
        case("numbers", 2, &["--cell"], &["gradcheck", "--cell", "foo"]),
        case("numbers", 2, &["hidden"], &["bench", "--hidden", HUGE]),
        case(
            "numbers",
            2,
            &["length"],
            &[
                "bench", "--hidden", "4", "--steps", "1", "--warmup", "0", "--length", HUGE,
            ],
        ),
    ]);
    v
}

/// 10,000 nested parentheses.
fn nested() -> Vec<u8> {
    let mut s = "(".repeat(10_000);
    s += &")".repeat(10_000);
    s.into_bytes()
}

/// Bytes that are not UTF-8 text, NULs included.
fn binary() -> Vec<u8> {
    (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The first half of a fixture file.
fn truncated(sb: &Sandbox, rel: &str) -> Vec<u8> {
    let bytes = std::fs::read(sb.w(rel)).unwrap();
    bytes[..bytes.len() / 2].to_vec()
}

/// A 20 MB file: a valid start followed by a comment that never ends.
fn oversized() -> Vec<u8> {
    let mut s = b"(name: \"x\", /* ".to_vec();
    s.resize(20 << 20, b'x');
    s
}

/// The ways a file can be broken.
/// Makes a broken file's bytes (from the sandbox's fixture at the given path, for some).
type MakeBroken = fn(&Sandbox, &str) -> Vec<u8>;

fn broken_files() -> Vec<(&'static str, MakeBroken)> {
    vec![
        ("truncated", |sb, rel| truncated(sb, rel)),
        ("binary", |_, _| binary()),
        ("nested", |_, _| nested()),
        ("empty", |_, _| Vec::new()),
        ("oversized", |_, _| oversized()),
    ]
}

fn file_cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (fixture it is made from, how it is passed)
    let targets: Vec<(&str, &str, Vec<&str>, Option<&str>)> = vec![
        (
            "run/config.ron",
            "bad.ron",
            vec!["train", "--config", "bad.ron", "--out", "o"],
            Some("o"),
        ),
        (
            "tiny.ron",
            "bad.ron",
            vec!["sweep", "--config", "bad.ron", "--out", "s", "--quiet"],
            Some("s"),
        ),
        (
            "tanaka.ron",
            "bad.ron",
            vec![
                "train",
                "--data",
                "bad.ron",
                "--steps",
                "2",
                "--hidden",
                "4",
                "--eval-size",
                "8",
                "--probe-size",
                "2",
                "--out",
                "o",
                "--quiet",
            ],
            Some("o"),
        ),
        (
            "tanaka.ron",
            "bad.ron",
            vec!["data", "check", "bad.ron"],
            None,
        ),
        (
            "tanaka.ron",
            "bad.ron",
            vec!["data", "show", "--data", "bad.ron"],
            None,
        ),
        (
            "tanaka.ron",
            "bad.ron",
            vec![
                "gradients",
                "--data",
                "bad.ron",
                "--hidden",
                "4",
                "--probe-size",
                "2",
                "--out",
                "g",
            ],
            Some("g"),
        ),
    ];
    // a 12 KB experiment file whose grid multiplies out to 10^9 runs (three axes of 1,000
    // values): refused from the product of its axes before any run is built, as --seeds is
    // (it aborted after allocating 3.8 GB)
    for dry_run in [false, true] {
        let mut args = vec!["sweep", "--config", "huge.ron", "--out", "s", "--quiet"];
        if dry_run {
            args.push("--dry-run");
        }
        v.push(
            case("files", 2, &["huge.ron", "grid", "1000000000 runs", "at most"], &args)
                .setup(|sb| {
                    let values: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
                    let values = values.join(", ");
                    let text = format!(
                        "(name: \"huge\", base: (), grid: {{\"hidden\": [{values}], \"steps\": [{values}], \"batch\": [{values}]}})\n"
                    );
                    write(&sb.w("huge.ron"), text.as_bytes());
                })
                .out("s"),
        );
    }
    for (fixture, file, args, out) in targets {
        for (how, make) in broken_files() {
            let fixture = fixture.to_string();
            let mut c = case("files", 2, &[file], &args)
                .named(&format!("{how} {fixture} as: {}", args.join(" ")))
                .setup(move |sb| write(&sb.w("bad.ron"), &make(sb, &fixture)));
            if let Some(o) = out {
                c = c.out(o);
            }
            v.push(c);
        }
    }
    let model_args = [
        "gradients",
        "--model",
        "m",
        "--probe-size",
        "2",
        "--out",
        "g",
    ];
    let model = |needles: &[&str], name: &str, f: fn(&Sandbox)| {
        case("files", 2, needles, &model_args)
            .named(name)
            .out("g")
            .setup(move |sb| {
                copy_tree(&sb.w("run"), &sb.w("m"));
                f(sb)
            })
    };
    v.extend([
        model(&["m/model.ron"], "model.ron nested", |sb| {
            write(&sb.w("m/model.ron"), &nested())
        }),
        model(&["m/model.ron"], "model.ron binary", |sb| {
            write(&sb.w("m/model.ron"), &binary())
        }),
        model(&["m/model.ron"], "model.ron truncated", |sb| {
            let t = truncated(sb, "m/model.ron");
            write(&sb.w("m/model.ron"), &t)
        }),
        model(&["--model m", "model.ron"], "model.ron missing", |sb| {
            std::fs::remove_file(sb.w("m/model.ron")).unwrap()
        }),
        model(
            &["m/model.safetensors"],
            "model.safetensors truncated",
            |sb| {
                let t = truncated(sb, "m/model.safetensors");
                write(&sb.w("m/model.safetensors"), &t)
            },
        ),
        model(&["m/model.safetensors"], "model.safetensors binary", |sb| {
            write(&sb.w("m/model.safetensors"), &binary())
        }),
        model(&["m/model.safetensors"], "model.safetensors empty", |sb| {
            write(&sb.w("m/model.safetensors"), b"")
        }),
        model(
            &["--model m", "model.safetensors"],
            "model.safetensors missing",
            |sb| std::fs::remove_file(sb.w("m/model.safetensors")).unwrap(),
        ),
        model(
            &["m/model.safetensors", "weight_ih_l0"],
            "model.ron says lstm, weights are",
            |sb| {
                let p = sb.w("m/model.ron");
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, t.replacen("cell: lstm", "cell: gru", 1)).unwrap();
            },
        )
        .named("model.ron names another cell than its weights"),
        case(
            "files",
            2,
            &["nowhere"],
            &["gradients", "--model", "nowhere", "--out", "g"],
        )
        .out("g"),
        model(
            &["m/model.ron", "hidden"],
            "model.ron claiming hidden 2^64-1",
            |sb| {
                let p = sb.w("m/model.ron");
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(
                    &p,
                    t.replacen("            4,\n", &format!("            {HUGE},\n"), 1),
                )
                .unwrap();
            },
        ),
        model(
            &["m/model.ron", "hidden"],
            "model.ron claiming hidden 100000",
            |sb| {
                let p = sb.w("m/model.ron");
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(
                    &p,
                    t.replacen("            4,\n", "            100000,\n", 1),
                )
                .unwrap();
            },
        ),
        // wrong vocabulary: a copy-task file for a model trained on tanaka
        case(
            "files",
            2,
            &["--data copy.ron", "vocabulary"],
            &[
                "gradients",
                "--model",
                "run",
                "--data",
                "copy.ron",
                "--out",
                "g",
            ],
        )
        .out("g"),
        case(
            "files",
            2,
            &["tanaka.ron"],
            &[
                "train",
                "--data",
                "copy.ron",
                "--eval-data",
                "tanaka.ron",
                "--steps",
                "2",
                "--hidden",
                "4",
                "--out",
                "o",
                "--quiet",
            ],
        )
        .out("o"),
        case(
            "files",
            2,
            &["missing.ron"],
            &["train", "--config", "missing.ron", "--out", "o"],
        )
        .out("o"),
        case(
            "files",
            2,
            &["mydata"],
            &["train", "--config", "mydata", "--out", "o"],
        )
        .out("o"),
        case("files", 2, &["nope.ron"], &["data", "check", "nope.ron"]),
        case(
            "files",
            2,
            &["hidden", "at least 1"],
            &["train", "--config", "config.ron", "--out", "o"],
        )
        .out("o")
        .setup(|sb| {
            let t = std::fs::read_to_string(sb.w("run/config.ron")).unwrap();
            write(
                &sb.w("config.ron"),
                t.replacen("hidden: 4", "hidden: 0", 1).as_bytes(),
            )
        })
        .named("config.ron with hidden: 0"),
        case(
            "files",
            2,
            &["config.ron", "colour"],
            &["train", "--config", "config.ron", "--out", "o"],
        )
        .out("o")
        .setup(|sb| {
            let t = std::fs::read_to_string(sb.w("run/config.ron")).unwrap();
            write(
                &sb.w("config.ron"),
                t.replacen("batch: 4", "batch: 4, colour: 3", 1).as_bytes(),
            )
        })
        .named("config.ron with an unknown field"),
        case(
            "files",
            2,
            &["hidden", "memory"],
            &["train", "--config", "config.ron", "--out", "o"],
        )
        .out("o")
        .setup(|sb| {
            let t = std::fs::read_to_string(sb.w("run/config.ron")).unwrap();
            write(
                &sb.w("config.ron"),
                t.replacen("hidden: 4", &format!("hidden: {HUGE}"), 1)
                    .as_bytes(),
            )
        })
        .named("config.ron with hidden: 2^64-1"),
    ]);
    v
}

/// A run directory of a user's with `extra` added (relative to the run).
fn run_with(sb: &Sandbox, dir: &str, extra: &str) {
    copy_tree(&sb.w("run"), &sb.w(dir));
    write(&sb.w(dir).join(extra), b"user's file\n");
}

fn out_cases() -> Vec<Case> {
    let t = |code: i32, needles: &[&str], over: &[&str]| {
        let mut c = train(code, needles, over);
        c.category = "out";
        c
    };
    let mut v = vec![
        t(2, &[".", "not empty"], &["--out", "."]),
        t(2, &[".", "marker"], &["--out", ".", "--force"]),
        t(2, &["working directory"], &["--out", ".", "--force"])
            .cwd("run")
            .named("train --out . --force inside a run directory"),
        t(2, &["..", "working directory"], &["--out", "..", "--force"])
            .cwd("run/plots")
            .named("train --out .. --force from the run's plots/"),
        t(2, &[".."], &["--out", "..", "--force"])
            .named("train --out .. --force from the working directory"),
        t(2, &["/"], &["--out", "/"]),
        t(2, &["/"], &["--out", "/", "--force"]),
        t(2, &["$HOME"], &["--out", "$HOME"]),
        t(2, &["$HOME", "marker"], &["--out", "$HOME", "--force"]),
        t(2, &["home directory"], &["--out", "$HOME", "--force"])
            .setup(|sb| {
                // a HOME that looks like a run directory: rnnlab's marker and only its file names
                for f in std::fs::read_dir(&sb.home).unwrap() {
                    let p = f.unwrap().path();
                    if p.is_dir() {
                        std::fs::remove_dir_all(p).unwrap();
                    } else {
                        std::fs::remove_file(p).unwrap();
                    }
                }
                copy_tree(&sb.w("run"), &sb.home);
            })
            .named("train --out $HOME --force when HOME carries a run marker"),
        t(2, &["link", "symbolic link"], &["--out", "link", "--force"])
            .setup(|sb| symlink(&sb.w("run"), &sb.w("link"))),
        t(
            2,
            &["link/", "symbolic link"],
            &["--out", "link/", "--force"],
        )
        .setup(|sb| symlink(&sb.w("run"), &sb.w("link"))),
        t(2, &["link", "not empty"], &["--out", "link"])
            .setup(|sb| symlink(&sb.w("run"), &sb.w("link"))),
        t(2, &["symbolic link"], &["--out", "link/run", "--force"])
            .setup(|sb| {
                copy_tree(&sb.w("run"), &sb.outside.join("run"));
                symlink(&sb.outside, &sb.w("link"))
            })
            .named("train --out link/run --force through a link to a directory outside"),
        t(2, &["user", "marker"], &["--out", "user", "--force"])
            .setup(|sb| write(&sb.w("user/config.ron"), b"(my: \"own config\")\n"))
            .named("train --out DIR --force where DIR holds a config.ron that is not rnnlab's"),
        t(2, &["user", "not empty"], &["--out", "user"])
            .setup(|sb| write(&sb.w("user/config.ron"), b"(my: \"own config\")\n")),
        t(2, &["notes.txt"], &["--out", "r2", "--force"])
            .setup(|sb| run_with(sb, "r2", "notes.txt"))
            .named("train --force onto a run dir holding a user's notes.txt"),
        t(2, &["plots/mine.txt"], &["--out", "r2", "--force"])
            .setup(|sb| run_with(sb, "r2", "plots/mine.txt"))
            .named("train --force onto a run dir holding a user's plots/mine.txt"),
        t(2, &["data"], &["--out", "r2", "--force"])
            .setup(|sb| run_with(sb, "r2", "data/x.csv"))
            .named("train --force onto a run dir holding a user's subdirectory"),
        t(2, &["secret"], &["--out", "r2", "--force"])
            .setup(|sb| {
                copy_tree(&sb.w("run"), &sb.w("r2"));
                symlink(&sb.outside.join("secret.txt"), &sb.w("r2/secret"));
            })
            .named("train --force onto a run dir holding a link to a file outside"),
        t(
            2,
            &["notes.txt", "not a directory"],
            &["--out", "notes.txt"],
        ),
        t(2, &["not empty"], &["--out", "sw"]),
        t(2, &["sweep directory"], &["--out", "sw", "--force"]),
    ];
    let g = |code: i32, needles: &[&str], over: &[&str]| {
        let mut c = gradients(code, needles, over);
        c.category = "out";
        c
    };
    v.extend([
        g(2, &["run", "not a gradients"], &["--out", "run", "--force"])
            .named("gradients --force onto a training run"),
        g(2, &["run", "not empty"], &["--out", "run"]),
        g(2, &[".", "not a gradients"], &["--out", ".", "--force"]).cwd("run"),
    ]);
    let s = |code: i32, needles: &[&str], over: &[&str]| {
        let mut c = sweep(code, needles, over);
        c.category = "out";
        c
    };
    v.extend([
        s(2, &["mydata", "marker"], &["--out", "mydata"]),
        s(2, &[".", "marker"], &["--out", "."]),
        s(2, &["/"], &["--out", "/"]),
        s(2, &["$HOME", "marker"], &["--out", "$HOME"]),
        s(2, &["run", "not a sweep"], &["--out", "run"]),
        s(2, &["runs", "link"], &["--out", "s2"])
            .setup(|sb| {
                copy_tree(&sb.w("sw"), &sb.w("s2"));
                std::fs::remove_dir_all(sb.w("s2/runs")).unwrap();
                symlink(&sb.outside, &sb.w("s2/runs"));
            })
            .named("sweep into a sweep dir whose runs/ is a link outside"),
        s(2, &["notes.txt", "nothing was deleted"], &["--out", "s2"])
            .setup(|sb| {
                copy_tree(&sb.w("sw"), &sb.w("s2"));
                // the last run is not in results.csv (interrupted) and holds a user's file
                let csv = std::fs::read_to_string(sb.w("s2/results.csv")).unwrap();
                let last = csv.lines().last().unwrap();
                let kept: Vec<&str> = csv.lines().filter(|l| *l != last).collect();
                write(&sb.w("s2/results.csv"), (kept.join("\n") + "\n").as_bytes());
                write(
                    &sb.w("s2/runs/cell-gru_seed-1/notes.txt"),
                    b"user's file\n",
                );
            })
            .named("resume a sweep whose unfinished run dir holds a user's file"),
        s(2, &["another experiment"], &["--out", "sw", "--cell", "lstm"])
            .named("sweep of another grid into an existing sweep dir"),
        s(2, &["name"], &["--config", "bad.ron", "--out", "s"])
            .setup(|sb| write(&sb.w("bad.ron"), experiment("../x", "").as_bytes()))
            .named("experiment name ../x"),
        s(2, &["name"], &["--config", "bad.ron"])
            .setup(|sb| write(&sb.w("bad.ron"), experiment("/abs", "").as_bytes()))
            .named("experiment name /abs (default --out runs/<name>)"),
        s(2, &["name", "control"], &["--config", "bad.ron"])
            .setup(|sb| write(&sb.w("bad.ron"), experiment("a\nb", "").as_bytes()))
            .named("experiment name a\\nb"),
        s(2, &["name", "300 bytes"], &["--config", "bad.ron"])
            .setup(|sb| write(&sb.w("bad.ron"), experiment(&"n".repeat(300), "").as_bytes()))
            .named("experiment name of 300 characters"),
        s(2, &["name"], &["--config", "bad.ron"])
            .setup(|sb| write(&sb.w("bad.ron"), experiment("..", "").as_bytes()))
            .named("experiment name .."),
        s(2, &["name", "empty"], &["--config", "bad.ron"])
            .setup(|sb| write(&sb.w("bad.ron"), experiment("", "").as_bytes()))
            .named("experiment name empty"),
        s(2, &["variants[0].name", "separator"], &["--config", "bad.ron", "--out", "s"])
            .setup(|sb| {
                let v = "(name: \"a/b\", set: {\"init-scale\": 0.5})";
                write(&sb.w("bad.ron"), experiment("e", v).as_bytes())
            })
            .named("variant a/b"),
        s(2, &["variants[1].name", "case"], &["--config", "bad.ron", "--out", "s"])
            .setup(|sb| {
                let v = "(name: \"Fast\", set: {\"init-scale\": 0.5}), (name: \"fast\", set: {\"init-scale\": 0.7})";
                write(&sb.w("bad.ron"), experiment("e", v).as_bytes())
            })
            .named("variants Fast and fast"),
        s(2, &["variants[1].name"], &["--config", "bad.ron", "--out", "s"])
            .setup(|sb| {
                let v = "(name: \"fast\", set: {\"init-scale\": 0.5}), (name: \" fast \", set: {\"init-scale\": 0.7})";
                write(&sb.w("bad.ron"), experiment("e", v).as_bytes())
            })
            .named("variants 'fast' and ' fast '"),
        // punctuation is escaped (%XX) in run-directory names: two runs, two directories
        s(0, &[], &["--config", "bad.ron", "--out", "s"])
            .setup(|sb| {
                let v = "(name: \"fast!\", set: {\"init-scale\": 0.5}), (name: \"fast?\", set: {\"init-scale\": 0.7})";
                write(&sb.w("bad.ron"), experiment("e", v).as_bytes())
            })
            .check(|sb| {
            // the grid (the command line's cells and seeds) crossed with two variants
            let names: Vec<String> = std::fs::read_dir(sb.w("s/runs"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let count = |p: &str| names.iter().filter(|n| n.starts_with(p)).count();
            assert_eq!(names.len(), 8, "{names:?}");
            assert_eq!(count("variant-fast%21_"), 4, "{names:?}");
            assert_eq!(count("variant-fast%3F_"), 4, "{names:?}");
        })
        .named("variants fast! and fast? (distinct, both run)"),
    ]);
    let m = |code: i32, needles: &[&str], args: &[&str]| case("out", code, needles, args);
    v.extend([
        m(2, &["mydata", "marker"], &["merge", "mydata", "sw"]),
        m(2, &[".", "marker"], &["merge", ".", "sw"]),
        m(2, &["$HOME", "marker"], &["merge", "$HOME", "sw"]),
        m(2, &["run", "not a sweep"], &["merge", "run", "sw"]),
        m(2, &["mydata", "marker"], &["compare", "mydata"]),
        m(2, &["marker"], &["compare", "."]),
        m(2, &["$HOME", "marker"], &["compare", "$HOME"]),
        m(2, &["run"], &["compare", "run"]),
        m(2, &["nowhere"], &["compare", "nowhere"]),
        m(2, &["nowhere"], &["merge", "mg", "nowhere"]).out("mg"),
        // a shard's run dir links to a directory outside: merged, the link is not followed
        m(0, &[], &["merge", "mg", "shard"])
            .out("mg")
            .setup(|sb| {
                copy_tree(&sb.w("sw"), &sb.w("shard"));
                symlink(&sb.outside, &sb.w("shard/runs/cell-rnn_seed-0/leak"));
                symlink(
                    &sb.outside.join("secret.txt"),
                    &sb.w("shard/runs/cell-rnn_seed-0/secret.txt"),
                );
            })
            .check(|sb| {
                let run = sb.w("mg/runs/cell-rnn_seed-0");
                assert!(run.join("config.ron").is_file(), "the run was not merged");
                for name in ["leak", "secret.txt"] {
                    assert!(
                        std::fs::symlink_metadata(run.join(name)).is_err(),
                        "{name} was copied"
                    );
                }
                let mut all = Snapshot::new();
                walk(&sb.w("mg"), None, &mut all);
                assert!(
                    !all.keys()
                        .any(|p| p.ends_with("secret.txt") || p.ends_with("deep.txt")),
                    "a file of outside/ was copied: {:?}",
                    all.keys().collect::<Vec<_>>()
                );
                assert_eq!(result_keys(&sb.w("mg")).len(), 4);
            })
            .named("merge a shard whose run dir links outside (nothing of outside/ copied)"),
        case(
            "out",
            2,
            &["--out notes.txt", "already exists"],
            &[
                "data",
                "generate",
                "--task",
                "copy",
                "--length",
                "3",
                "--count",
                "2",
                "--out",
                "notes.txt",
            ],
        ),
        case(
            "out",
            2,
            &["--out notes.txt", "not a dataset"],
            &[
                "data",
                "generate",
                "--task",
                "copy",
                "--length",
                "3",
                "--count",
                "2",
                "--out",
                "notes.txt",
                "--force",
            ],
        ),
        case(
            "out",
            2,
            &["--out mydata", "not a regular file"],
            &[
                "data", "generate", "--task", "copy", "--length", "3", "--count", "2", "--out",
                "mydata", "--force",
            ],
        ),
        case(
            "out",
            2,
            &["--out link", "not a regular file"],
            &[
                "data", "generate", "--task", "copy", "--length", "3", "--count", "2", "--out",
                "link", "--force",
            ],
        )
        .setup(|sb| symlink(&sb.outside.join("secret.txt"), &sb.w("link"))),
    ]);
    v
}

fn all_cases() -> Vec<Case> {
    let mut v = in_category(numeric_cases(), "numbers");
    v.extend(in_category(file_cases(), "files"));
    v.extend(in_category(out_cases(), "out"));
    v
}

/// Runs one case in a fresh sandbox; returns what went wrong.
fn run_case(c: &Case) -> Vec<String> {
    let sb = Sandbox::new();
    if let Some(setup) = &c.setup {
        setup(&sb);
    }
    let out = c
        .out
        .as_ref()
        .map(|o| sb.work.join(c.cwd).join(sb.expand(o)));
    let out_is_new = out
        .as_ref()
        .is_some_and(|o| std::fs::symlink_metadata(o).is_err());
    let exclude = out.filter(|_| out_is_new);
    let before = snapshot(&sb.root, exclude.as_deref());
    let args: Vec<String> = c.args.iter().map(|a| sb.expand(a)).collect();
    let ran = run_with_deadline(sb.command(c.cwd, &args), Duration::from_secs(20));
    let after = snapshot(&sb.root, exclude.as_deref());
    let mut problems = Vec::new();
    if ran.timed_out {
        problems.push("did not finish within 20 s".to_string());
    }
    if ran.code != Some(c.code) {
        problems.push(format!("exit {:?}, expected {}", ran.code, c.code));
    }
    if let Some(mark) = panic_marks(&ran.stderr) {
        problems.push(format!("stderr shows {mark:?}"));
    }
    if c.code != 0 {
        let lines: Vec<&str> = ran.stderr.lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("error: ") {
            problems.push("stderr is not one 'error: …' line".to_string());
        }
        for n in &c.needles {
            let n = sb.expand(n);
            if !ran.stderr.contains(&n) {
                problems.push(format!("stderr does not name {n:?}"));
            }
        }
        if c.code == 2 && !ran.stdout.is_empty() {
            let start: String = ran.stdout.chars().take(200).collect();
            problems.push(format!("stdout not empty: {start:?}…"));
        }
    }
    if let Some(check) = &c.check {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&sb))) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            problems.push(format!("its output: {why}"));
        }
    }
    let changed = changes(&before, &after);
    if !changed.is_empty() {
        problems.push(format!("files outside --out changed: {changed:?}"));
    }
    if !problems.is_empty() {
        problems.push(format!(
            "stderr: {}",
            ran.stderr.chars().take(400).collect::<String>()
        ));
    }
    problems
}

fn run_table() {
    let start = Instant::now();
    let cases: Vec<Case> = all_cases();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in &cases {
        *counts.entry(c.category).or_default() += 1;
        let problems = run_case(c);
        if !problems.is_empty() {
            failures.push(format!(
                "[{}] {}:\n    {}",
                c.category,
                c.name,
                problems.join("\n    ")
            ));
        }
    }
    eprintln!(
        "catalogue: {} cases {counts:?} in {:.1} s, {} failed",
        cases.len(),
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn catalogue_of_bad_inputs() {
    let cases = all_cases();
    assert!(cases.len() >= 80, "{} cases", cases.len());
    run_table();
}

// ---------------------------------------------------------------------------------------------
// Full standard output: exit 1, one line, no panic, nothing outside --out changed.

#[test]
fn a_full_stdout_is_one_line_and_exit_1() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let cases: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            ["data", "show", "--task", "tanaka", "--length", "5"]
                .map(String::from)
                .to_vec(),
            None,
        ),
        (["compare", "sw"].map(String::from).to_vec(), Some("sw")),
        (tiny(&["train"], TRAIN, &["--out", "o"]), Some("o")),
        (
            ["data", "check", "tanaka.ron"].map(String::from).to_vec(),
            None,
        ),
        (
            [
                "data", "generate", "--task", "copy", "--length", "3", "--count", "2", "--out",
                "new.ron",
            ]
            .map(String::from)
            .to_vec(),
            Some("new.ron"),
        ),
        (tiny(&["sweep"], SWEEP, &["--out", "s"]), Some("s")),
        (
            ["gradcheck", "--cell", "rnn", "--activation", "tanh"]
                .map(String::from)
                .to_vec(),
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (args, out) in cases {
        let sb = Sandbox::new();
        let exclude = out.map(|o| sb.w(o));
        let before = snapshot(&sb.root, exclude.as_deref());
        let mut cmd = sb.command("", &args);
        cmd.stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .stderr(Stdio::piped());
        let res = cmd.output().unwrap();
        let err = text(&res.stderr);
        let after = snapshot(&sb.root, exclude.as_deref());
        let ok = res.status.code() == Some(1)
            && err.lines().count() == 1
            && err.contains("standard output")
            && panic_marks(&err).is_none()
            && changes(&before, &after).is_empty();
        if !ok {
            failures.push(format!(
                "{args:?}: exit {:?}, stderr {err:?}, changes {:?}",
                res.status.code(),
                changes(&before, &after)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Sweeps interrupted and racing.

/// A grid of 12 runs that takes a noticeable time.
const LONG_SWEEP: &[&str] = &[
    "sweep",
    "--cell",
    "rnn,gru",
    "--length",
    "3,4,5",
    "--seeds",
    "2",
    "--hidden",
    "8",
    "--batch",
    "8",
    "--steps",
    "60",
    "--eval-every",
    "20",
    "--eval-size",
    "16",
    "--probe-size",
    "4",
    "--jobs",
    "2",
    "--quiet",
];
const LONG_SWEEP_RUNS: usize = 12;

fn long_sweep(sb: &Sandbox, out: &str) -> Command {
    let args: Vec<String> = LONG_SWEEP
        .iter()
        .map(|s| s.to_string())
        .chain(["--out".to_string(), out.to_string()])
        .collect();
    sb.command("", &args)
}

/// Parses results.csv with the csv crate; returns the grid keys (cell, length, seed) of its rows.
fn result_keys(dir: &Path) -> Vec<(String, String, String)> {
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).expect("results.csv opens");
    let headers = reader.headers().expect("a header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (c, l, s) = (col("cell"), col("length"), col("seed"));
    reader
        .records()
        .map(|r| {
            let r = r.expect("every row parses");
            assert_eq!(r.len(), headers.len(), "{r:?}");
            (r[c].to_string(), r[l].to_string(), r[s].to_string())
        })
        .collect()
}

/// Exactly one row per grid point, and every run directory complete.
fn assert_complete(dir: &Path) {
    let mut keys = result_keys(dir);
    keys.sort();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "a row is duplicated in results.csv");
    assert_eq!(n, LONG_SWEEP_RUNS, "{keys:?}");
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), LONG_SWEEP_RUNS, "{runs:?}");
    for run in runs {
        for f in [
            ".rnnlab-output",
            "config.ron",
            "metrics.csv",
            "summary.ron",
            "model.ron",
            "model.safetensors",
        ] {
            assert!(run.join(f).is_file(), "{} lacks {f}", run.display());
        }
        let tmp: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(tmp.is_empty(), "{}: {tmp:?}", run.display());
    }
}

fn wait(child: &mut Child, deadline: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a sweep did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_at_random_moments_then_resume_loses_and_duplicates_nothing() {
    let sb = Sandbox::new();
    // the sweep directories k/0, k/1, k/2 (and k/probe) are the only things it may write
    let before = snapshot(&sb.root, Some(&sb.w("k")));
    // the time a whole sweep takes, to spread the kills over it
    let t0 = Instant::now();
    let mut probe = long_sweep(&sb, "k/probe");
    probe.stdout(Stdio::null()).stderr(Stdio::null());
    assert_eq!(
        wait(&mut probe.spawn().unwrap(), Duration::from_secs(60)),
        Some(0)
    );
    let whole = t0.elapsed();
    std::fs::remove_dir_all(sb.w("k/probe")).unwrap();
    // deterministic moments: an LCG seeded with a constant, each kill within 3–30 % of a whole
    // sweep, four kills into each of three sweep directories (so that each is still unfinished)
    let mut state: u64 = 0x5eed_0008;
    let mut kills = 0;
    let dirs = ["k/0", "k/1", "k/2"];
    for i in 0..12 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let fraction = 0.03 + 0.27 * ((state >> 33) as f64 / (1u64 << 31) as f64);
        let dir = dirs[i / 4];
        let mut cmd = long_sweep(&sb, dir);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(whole.mul_f64(fraction));
        // SIGKILL, as `kill -9` sends it
        let killed = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let status = child.wait().unwrap();
        if killed {
            kills += 1;
        } else {
            assert_eq!(
                status.code(),
                Some(0),
                "a sweep that ended by itself failed"
            );
        }
        // whatever was killed, what is there parses and holds no row twice
        if sb.w(dir).join("results.csv").exists() {
            let keys = result_keys(&sb.w(dir));
            let mut unique = keys.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), keys.len(), "duplicated rows after a kill");
        }
    }
    eprintln!("kill -9: {kills} of 12 sweeps killed mid-run (a whole sweep took {whole:?})");
    assert!(kills >= 10, "only {kills} sweeps were killed mid-run");
    for dir in dirs {
        let mut resume = long_sweep(&sb, dir);
        resume.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = resume.spawn().unwrap();
        assert_eq!(wait(&mut child, Duration::from_secs(60)), Some(0));
        assert_complete(&sb.w(dir));
    }
    let after = snapshot(&sb.root, Some(&sb.w("k")));
    assert_eq!(changes(&before, &after), Vec::<String>::new());
}

#[test]
fn concurrent_sweeps_into_one_directory_one_waits_nothing_lost() {
    let sb = Sandbox::new();
    let before = snapshot(&sb.root, Some(&sb.w("c")));
    // the first sweep holds the lock; a second one started meanwhile fails at once
    let mut first = long_sweep(&sb, "c");
    first.stdout(Stdio::null()).stderr(Stdio::null());
    let mut first = first.spawn().unwrap();
    let lock = sb.w("c/.rnnlab-lock");
    let start = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |t| t.trim().is_empty()) {
        assert!(start.elapsed() < Duration::from_secs(20), "no lock taken");
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut second = long_sweep(&sb, "c");
    second.stdout(Stdio::piped()).stderr(Stdio::piped());
    let t = Instant::now();
    let res = second.output().unwrap();
    let err = text(&res.stderr);
    if first.try_wait().unwrap().is_none() {
        assert_eq!(res.status.code(), Some(2), "{err}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the second sweep waited"
        );
        assert!(
            err.contains("c") && err.contains(&first.id().to_string()),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(panic_marks(&err).is_none(), "{err}");
    }
    assert_eq!(wait(&mut first, Duration::from_secs(60)), Some(0));
    // then both started together, several times: each exits 0 or 2, and no row is lost or doubled
    for _ in 0..3 {
        std::fs::remove_dir_all(sb.w("c")).unwrap();
        let mut a = long_sweep(&sb, "c");
        let mut b = long_sweep(&sb, "c");
        for c in [&mut a, &mut b] {
            c.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let (mut a, mut b) = (a.spawn().unwrap(), b.spawn().unwrap());
        let ca = wait(&mut a, Duration::from_secs(60));
        let cb = wait(&mut b, Duration::from_secs(60));
        assert!(
            matches!((ca, cb), (Some(0), Some(0 | 2)) | (Some(2), Some(0))),
            "{ca:?} {cb:?}"
        );
        let mut again = long_sweep(&sb, "c");
        again.stdout(Stdio::null()).stderr(Stdio::null());
        assert_eq!(
            wait(&mut again.spawn().unwrap(), Duration::from_secs(60)),
            Some(0)
        );
        assert_complete(&sb.w("c"));
    }
    let after = snapshot(&sb.root, Some(&sb.w("c")));
    assert_eq!(changes(&before, &after), Vec::<String>::new());
}

/// The snapshot the catalogue relies on sees a changed content, a changed mtime alone, a removed
/// file, a created file and a retargeted link.
#[test]
fn the_snapshot_sees_every_kind_of_change() {
    let sb = Sandbox::new();
    let base = snapshot(&sb.root, None);
    let touch = |f: &dyn Fn()| {
        let sb2 = snapshot(&sb.root, None);
        f();
        let after = snapshot(&sb.root, None);
        assert!(!changes(&sb2, &after).is_empty());
    };
    touch(&|| write(&sb.w("notes.txt"), b"my notez\n"));
    touch(&|| {
        let f = std::fs::File::options()
            .write(true)
            .open(sb.home.join(".profile"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
    });
    touch(&|| std::fs::remove_file(sb.outside.join("sub/deep.txt")).unwrap());
    touch(&|| write(&sb.home.join("new.txt"), b""));
    touch(&|| symlink(&sb.outside, &sb.w("l")));
    touch(&|| {
        std::fs::remove_file(sb.w("l")).unwrap();
        symlink(&sb.home, &sb.w("l"));
    });
    assert!(!changes(&base, &snapshot(&sb.root, None)).is_empty());
    // and the excluded output directory is left out
    let out = sb.w("o");
    let before = snapshot(&sb.root, Some(&out));
    write(&out.join("x"), b"x");
    assert!(changes(&before, &snapshot(&sb.root, Some(&out))).is_empty());
}
