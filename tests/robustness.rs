//! A batch never loses what it finished: a run killed with SIGKILL resumes from its
//! checkpoint and ends with exactly the output of an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("partyline")
}

/// A corpus big enough that a run takes a few seconds.
fn corpus(dir: &Path, docs: usize) -> PathBuf {
    let pairs = [
        ("Kenya", "Somalia"),
        ("Morocco", "Algeria"),
        ("Ethiopia", "Eritrea"),
        ("Colombia", "Venezuela"),
    ];
    let mut out = String::new();
    for i in 0..docs {
        let (a, b) = pairs[i % pairs.len()];
        let text = format!(
            "{a} accused {b} on Monday of violating the {i} accord. {b} rejected the claim as baseless. \
             Officials said talks would resume in week {}. \"We remain open to dialogue,\" the ministry added.",
            i % 52
        );
        out += &serde_json::json!({"id": format!("d{i}"), "text": text, "date": "2024-05-01"})
            .to_string();
        out.push('\n');
    }
    let p = dir.join("corpus.jsonl");
    std::fs::write(&p, out).unwrap();
    p
}

fn kill_and_resume(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path(), 20_000);
    let full = dir.path().join(format!("full.{format}"));
    Command::new(bin())
        .args(["attribute", "-o"])
        .arg(&full)
        .arg(&input)
        .assert()
        .success();

    let out = dir.path().join(format!("killed.{format}"));
    let checkpoint = PathBuf::from(format!("{}.checkpoint", out.display()));
    let mut child = std::process::Command::new(bin())
        .args(["attribute", "-o"])
        .arg(&out)
        .arg(&input)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !out.exists(),
        "the run finished before it could be killed; make the corpus larger"
    );
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    assert!(
        partial.exists(),
        "the killed run's output is kept as .partial"
    );

    Command::new(bin())
        .args(["attribute", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success()
        .stderr(predicate::str::contains("resumed"));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&full).unwrap(),
        "resumed output differs from an uninterrupted run"
    );
    assert!(
        !checkpoint.exists() && !partial.exists(),
        "a finished run leaves no checkpoint or partial file"
    );
}

#[test]
fn killed_jsonl_run_resumes_without_loss_or_repeats() {
    kill_and_resume("jsonl");
}

#[test]
fn killed_csv_run_resumes_without_loss_or_repeats() {
    kill_and_resume("csv");
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path(), 3);
    let out = dir.path().join("o.jsonl");
    Command::new(bin())
        .args(["attribute", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nothing to resume"));
    Command::new(bin())
        .args(["attribute", "--resume", "-"])
        .write_stdin("x")
        .assert()
        .code(2);
    // A checkpoint from other inputs is refused.
    std::fs::write(
        format!("{}.checkpoint", out.display()),
        r#"{"inputs":["other.jsonl"],"format":"jsonl","documents":1,"records":1,"bytes":10}"#,
    )
    .unwrap();
    std::fs::write(format!("{}.partial", out.display()), "x".repeat(10)).unwrap();
    Command::new(bin())
        .args(["attribute", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("other inputs"));
}
