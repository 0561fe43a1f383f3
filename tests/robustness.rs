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

/// Runs partyline under a virtual-memory cap (bash's `ulimit -v`, in KiB), so a reader that
/// loads an oversized input whole fails the test.
fn capped(kib: u64, args: &str) -> std::process::Output {
    std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v {kib} && exec '{}' {args}",
            bin().display()
        ))
        .output()
        .unwrap()
}

#[test]
fn a_200_mb_line_is_rejected_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    use std::io::Write;
    writeln!(
        f,
        r#"{{"id":"ok1","text":"Kenya said it was ready to talk."}}"#
    )
    .unwrap();
    write!(f, r#"{{"id":"big","text":""#).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..200 {
        f.write_all(&block).unwrap();
    }
    writeln!(f, r#""}}"#).unwrap();
    writeln!(f, r#"{{"id":"ok2","text":"Somalia agreed."}}"#).unwrap();
    drop(f);
    let out = capped(
        120_000,
        &format!("attribute --skip-bad --format jsonl '{}'", p.display()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("big.jsonl:2: line longer than 10000000 bytes"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

#[test]
fn a_million_tiny_documents_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    use std::io::Write;
    for i in 0..1_000_000 {
        writeln!(f, r#"{{"id":"{i}","text":"Peace."}}"#).unwrap();
    }
    drop(f);
    let out_path = dir.path().join("out.csv");
    let start = Instant::now();
    let out = capped(
        120_000,
        &format!("attribute -o '{}' '{}'", out_path.display(), p.display()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_secs(240),
        "took {:?}",
        start.elapsed()
    );
    let lines = std::io::BufRead::lines(std::io::BufReader::new(
        std::fs::File::open(&out_path).unwrap(),
    ))
    .count();
    assert_eq!(lines, 1_000_001, "a header and one record per document");
}

#[test]
fn nul_bytes_nested_json_and_oversized_documents_get_clear_answers() {
    let dir = tempfile::tempdir().unwrap();
    let nul = dir.path().join("nul.txt");
    std::fs::write(&nul, vec![0u8; 1 << 20]).unwrap();
    Command::new(bin())
        .args(["attribute", "--format", "jsonl"])
        .arg(&nul)
        .assert()
        .success();

    let nested = dir.path().join("nested.jsonl");
    let deep = format!(
        "{{\"id\":\"a\",\"text\":{}1{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(&nested, deep).unwrap();
    Command::new(bin())
        .arg("attribute")
        .arg(&nested)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nested.jsonl:1: malformed JSON"));

    let big = dir.path().join("big.txt");
    std::fs::write(&big, "Kenya said so. ".repeat(100)).unwrap();
    Command::new(bin())
        .args(["attribute", "--max-doc-bytes", "1000"])
        .arg(&big)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "big.txt: document larger than 1000 bytes",
        ));
}

#[test]
fn a_full_disk_gives_a_clear_error_and_a_checkpoint_to_resume_from() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path(), 20_000);
    let full = dir.path().join("full.jsonl");
    Command::new(bin())
        .args(["attribute", "-o"])
        .arg(&full)
        .arg(&input)
        .assert()
        .success();
    // A 1 MB tmpfs in a private mount namespace fills up part way through the run.
    let mnt = dir.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m tmpfs '{m}' && '{b}' attribute -o '{m}/out.jsonl' '{i}'; rc=$?; \
         cp '{m}/out.jsonl.partial' '{m}/out.jsonl.checkpoint' '{d}/' ; exit $rc",
        m = mnt.display(),
        b = bin().display(),
        i = input.display(),
        d = dir.path().display()
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("rerun with --resume"), "{stderr}");
    // The checkpoint is valid: moved to a disk with room, the run resumes to the full output.
    let moved = dir.path().join("out.jsonl");
    Command::new(bin())
        .args(["attribute", "--resume", "-o"])
        .arg(&moved)
        .arg(&input)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        std::fs::read(&full).unwrap()
    );
}

#[test]
fn killed_score_run_resumes_without_loss_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path(), 700);
    let args = ["score", "--model", "fast", "--threads", "1", "-o"];
    let full = dir.path().join("full.jsonl");
    Command::new(bin())
        .args(args)
        .arg(&full)
        .arg(&input)
        .assert()
        .success();

    let out = dir.path().join("killed.jsonl");
    let checkpoint = PathBuf::from(format!("{}.checkpoint", out.display()));
    let mut child = std::process::Command::new(bin())
        .args(args)
        .arg(&out)
        .arg(&input)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "the run finished before it could be killed");
    Command::new(bin())
        .args([
            "score",
            "--resume",
            "--model",
            "fast",
            "--threads",
            "1",
            "-o",
        ])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();

    let read = |p: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = (read(&full), read(&out));
    assert_eq!(a.len(), b.len(), "no record lost, none repeated");
    for (x, y) in a.iter().zip(&b) {
        for (k, v) in x.as_object().unwrap() {
            if k.starts_with("p_") {
                // Batches are grouped differently after a resume; the encoder's sums may
                // differ in the last float bits.
                assert!(
                    (v.as_f64().unwrap() - y[k].as_f64().unwrap()).abs() < 2e-3,
                    "{k}: {v} vs {}",
                    y[k]
                );
            } else {
                assert_eq!(v, &y[k], "{k}");
            }
        }
    }
}
