//! `partyline bench` and `--device`: the harness runs end to end on a small generated
//! corpus and reports every stage; the corpus is the same for the same seed; asking for
//! CUDA without the GPU library fails with the fix in the message. Nothing here times
//! anything: speed is measured by the benchmark itself (BENCHMARKS.md).

use assert_cmd::Command;
use serde_json::Value;

fn partyline() -> Command {
    Command::cargo_bin("partyline").unwrap()
}

#[test]
fn bench_smoke_run_reports_stages_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let out = partyline()
        .args(["bench", "--sentences", "60", "--runs", "1", "--offline"])
        .arg("--out-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap())
            .unwrap();
    assert_eq!(report["sentences"], 60);
    assert_eq!(report["model"], "fast");
    let run = &report["runs"][0];
    assert_eq!(run["stages"].as_array().unwrap().len(), 8);
    assert!(run["stages"][4].as_f64().unwrap() > 0.0, "inference timed");
    assert!(report["sentences_per_second"].as_f64().unwrap() > 0.0);
    let md = String::from_utf8(out.stdout).unwrap();
    for stage in [
        "ingest",
        "segmentation",
        "attribution",
        "tokenization",
        "inference",
        "aggregation",
        "export",
    ] {
        assert!(
            md.contains(&format!("| {stage} |")),
            "{stage} missing:\n{md}"
        );
    }
    let scored = std::fs::read_to_string(dir.path().join("scored.jsonl")).unwrap();
    assert_eq!(scored.lines().count(), 60);
    assert!(dir.path().join("tables").join("parties.csv").exists());
}

#[test]
fn generated_corpus_is_fixed_by_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        partyline()
            .args([
                "bench",
                "--sentences",
                "500",
                "--seed",
                seed,
                "--write-corpus",
            ])
            .arg(&path)
            .assert()
            .success();
        std::fs::read_to_string(path).unwrap()
    };
    let a = write("a.jsonl", "5");
    assert_eq!(a, write("b.jsonl", "5"));
    assert_ne!(a, write("c.jsonl", "6"));
    let first: Value = serde_json::from_str(a.lines().next().unwrap()).unwrap();
    for field in ["id", "title", "date", "source", "text"] {
        assert!(first[field].is_string(), "{field} missing: {first}");
    }
    // The documents segment back into exactly the sentences written.
    let out = partyline()
        .args(["attribute", "--format", "jsonl"])
        .arg(dir.path().join("a.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 500);
}

#[test]
fn cuda_without_the_gpu_library_names_the_fix() {
    if std::env::var_os("ORT_DYLIB_PATH").is_some() {
        return; // a GPU build may be configured here: nothing to check
    }
    let out = partyline()
        .args([
            "score",
            "--model",
            "fast",
            "--offline",
            "--device",
            "cuda",
            "-",
        ])
        .write_stdin("Kenya accused Somalia of moving troops to the border.\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("onnxruntime-gpu"), "{err}");
    assert!(err.contains("ORT_DYLIB_PATH"), "{err}");
}

#[test]
fn unknown_device_is_a_usage_error() {
    let out = partyline()
        .args(["score", "--device", "tpu", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
