//! Records the git commit the binary is built from (`RNNLAB_GIT_COMMIT`, "unknown" outside a git
//! checkout), so every run's summary says which build made it.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let suffix = if dirty && commit != "unknown" {
        "-modified"
    } else {
        ""
    };
    println!("cargo:rustc-env=RNNLAB_GIT_COMMIT={commit}{suffix}");
    // Rerun when the commit changes (HEAD, refs) or a source changes (the -modified flag).
    // Not .git/index: `git status` (above, and any a user runs) rewrites it, so watching it made
    // `cargo run --release` rebuild after `cargo build --release` for nothing. In a worktree
    // `.git` is a file and these paths do not exist: the commit is then read at every source change.
    for path in [".git/HEAD", ".git/refs", "src", "Cargo.toml", "build.rs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
