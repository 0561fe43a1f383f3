//! The shipped models end to end: `score` adds the model's fields to the attribute
//! records, `eval` reports on gold data, and the seed article's stance holds. These tests
//! use the pinned assets (`partyline setup`, which `.ci/run` calls first).

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const SEED: &str = "../shared/examples/istanbul-talks.txt";
const SEED_GOLD: &str = "../shared/examples/istanbul-talks.gold.jsonl";

fn partyline() -> Command {
    Command::cargo_bin("partyline").unwrap()
}

fn jsonl(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn score_seed(model: &str) -> Vec<Value> {
    score_seed_with(model, &[])
}

fn score_seed_with(model: &str, extra: &[&str]) -> Vec<Value> {
    let out = partyline()
        .args(["score", "--model", model, "--format", "jsonl"])
        .args(extra)
        .arg(SEED)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    jsonl(&out.stdout)
}

fn gold() -> Vec<Value> {
    std::fs::read_to_string(SEED_GOLD)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn score_adds_the_model_fields_and_keeps_attribution() {
    let scored = score_seed("fast");
    let attributed = jsonl(
        &partyline()
            .args(["attribute", "--format", "jsonl", SEED])
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(scored.len(), 16);
    for (s, a) in scored.iter().zip(&attributed) {
        for key in [
            "doc",
            "n",
            "start",
            "end",
            "text",
            "speakers",
            "attribution",
        ] {
            assert_eq!(s[key], a[key], "score must not change {key}");
        }
        // Targets are refined with the stance: none for neutral sentences, and the named
        // targets kept otherwise (a counterpart is added only where none was named).
        let (st, at) = (
            s["targets"].as_array().unwrap(),
            a["targets"].as_array().unwrap(),
        );
        if s["stance"] == "neutral" {
            assert!(st.is_empty(), "a neutral sentence aims at no one: {s}");
        } else if !at.is_empty() {
            assert_eq!(st, at);
        } else {
            assert!(st.len() <= 1);
        }
        let p: f64 = [
            "p_conciliatory",
            "p_accusatory",
            "p_threatening",
            "p_neutral",
        ]
        .iter()
        .map(|k| s[*k].as_f64().unwrap())
        .sum();
        assert!((p - 1.0).abs() < 1e-3, "stance probabilities sum to {p}");
        let q: f64 = ["p_positive", "p_negative", "p_neutral_sentiment"]
            .iter()
            .map(|k| s[*k].as_f64().unwrap())
            .sum();
        assert!((q - 1.0).abs() < 1e-3, "sentiment probabilities sum to {q}");
        assert!(
            ["conciliatory", "accusatory", "threatening", "neutral"]
                .contains(&s["stance"].as_str().unwrap())
        );
        assert!(["positive", "negative", "neutral"].contains(&s["sentiment"].as_str().unwrap()));
    }
}

#[test]
fn seed_article_stance_with_the_default_model() {
    let scored = score_seed("accurate");
    let gold = gold();
    let right = scored
        .iter()
        .zip(&gold)
        .filter(|(s, g)| s["stance"] == g["stance"])
        .count();
    let report: Vec<String> = scored
        .iter()
        .zip(&gold)
        .filter(|(s, g)| s["stance"] != g["stance"])
        .map(|(s, g)| format!("n={} got {} gold {}", s["n"], s["stance"], g["stance"]))
        .collect();
    eprintln!("seed stance {right}/16\n{}", report.join("\n"));
    assert!(
        right >= 13,
        "seed stance {right}/16 (target 13)\n{}",
        report.join("\n")
    );
}

#[test]
fn eval_reports_json_and_the_keyword_baseline() {
    let out = partyline()
        .args(["eval", "--gold", SEED_GOLD, "--model", "fast", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["sentences"], 16);
    assert_eq!(r["speaker_exact"], 1.0);
    assert!(r["stance"]["macro_f1"].as_f64().unwrap() > 0.0);
    assert_eq!(r["stance"]["confusion"].as_array().unwrap().len(), 4);
    assert!(r["sentiment"]["macro_f1"].as_f64().is_some());
    partyline()
        .args(["eval", "--gold", SEED_GOLD, "--baseline", "keyword"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("stance macro-F1").and(predicate::str::contains("confusion")),
        );
}

#[test]
fn score_writes_aggregate_tables() {
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("tables.xlsx");
    let out_csv = dir.path().join("scored.csv");
    partyline()
        .args(["score", "--model", "fast", "-o"])
        .arg(&out_csv)
        .arg("--aggregate")
        .arg(&xlsx)
        .arg(SEED)
        .assert()
        .success();
    assert_eq!(&std::fs::read(&xlsx).unwrap()[..2], b"PK");
    let csv = std::fs::read_to_string(&out_csv).unwrap();
    assert!(
        csv.starts_with("doc,n,start,end,text,speakers,targets,stance,p_conciliatory,"),
        "{csv}"
    );
    // The scored CSV aggregates like hand-coded records.
    partyline()
        .arg("aggregate")
        .arg(&out_csv)
        .assert()
        .success()
        .stdout(predicate::str::contains("\r\nAFG,"));
}

#[test]
fn corrupt_or_missing_models_say_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken");
    std::fs::create_dir_all(&model).unwrap();
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/fast/manifest.json"
    ))
    .unwrap();
    std::fs::write(model.join("manifest.json"), manifest).unwrap();
    std::fs::write(model.join("heads.safetensors"), b"not the heads").unwrap();
    partyline()
        .args(["score", "--model"])
        .arg(&model)
        .arg(SEED)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("does not match the manifest")
                .and(predicate::str::contains("restore it")),
        );
    partyline()
        .args(["score", "--model", "no-such-model", SEED])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no model named \"no-such-model\""));
    // --offline with an empty cache names the fix.
    let cache = tempfile::tempdir().unwrap();
    partyline()
        .env("PARTYLINE_CACHE", cache.path())
        .args(["score", "--offline", "--model", "fast", SEED])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("run `partyline setup`"));
}

#[test]
fn a_damaged_or_missing_adapter_is_refused_with_the_fix() {
    // A fine-tuned model whose committed adapter no longer matches its manifest.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tuned");
    std::fs::create_dir_all(&model).unwrap();
    let fast = concat!(env!("CARGO_MANIFEST_DIR"), "/models/fast");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{fast}/manifest.json")).unwrap())
            .unwrap();
    manifest["adapter"] = serde_json::json!({
        "file": "adapter.safetensors", "sha256": "00".repeat(32), "rank": 8, "alpha": 16.0,
        "layers": 2, "onnx_sha256": "11".repeat(32), "onnx_int8_sha256": "22".repeat(32)
    });
    std::fs::write(model.join("manifest.json"), manifest.to_string()).unwrap();
    std::fs::copy(
        format!("{fast}/heads.safetensors"),
        model.join("heads.safetensors"),
    )
    .unwrap();
    partyline()
        .args(["score", "--offline", "--model"])
        .arg(&model)
        .arg(SEED)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("adapter.safetensors"));
    std::fs::write(model.join("adapter.safetensors"), b"damaged").unwrap();
    partyline()
        .args(["score", "--offline", "--model"])
        .arg(&model)
        .arg(SEED)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("adapter is corrupt")
                .and(predicate::str::contains("restore it from git")),
        );
}

#[test]
fn corrupt_cached_assets_are_refused_with_the_fix() {
    // A cache whose tokenizer was damaged: the sha256 check names the file and the fix.
    let real = partyline::model::assets::cache_dir().join("encoders/minilm");
    let cache = tempfile::tempdir().unwrap();
    let enc = cache.path().join("encoders/minilm");
    std::fs::create_dir_all(&enc).unwrap();
    for f in [
        "model.safetensors",
        "config.json",
        "model.onnx",
        "model.int8.onnx",
    ] {
        std::os::unix::fs::symlink(real.join(f), enc.join(f)).unwrap();
    }
    std::fs::write(enc.join("tokenizer.json"), b"{}").unwrap();
    partyline()
        .env("PARTYLINE_CACHE", cache.path())
        .args(["score", "--offline", "--model", "fast", SEED])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("tokenizer.json has sha256")
                .and(predicate::str::contains("run `partyline setup`")),
        );
}

#[test]
fn scoring_opens_no_network_connection() {
    // A fresh network namespace has no route anywhere: scoring must still work there.
    let bin = assert_cmd::cargo::cargo_bin("partyline");
    let out = std::process::Command::new("unshare")
        .arg("-n")
        .arg(&bin)
        .args(["score", "--model", "fast", "--format", "jsonl", SEED])
        .output()
        .expect("unshare (util-linux) runs the command in a new network namespace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(jsonl(&out.stdout).len(), 16);
}

#[test]
fn int8_switch_scores_with_the_int8_graph() {
    // `accurate` chose f32 (its int8 graph lost 0.059 on dev); `--int8` must really switch
    // graphs: same labels' shape, different probabilities.
    let f32_rows = score_seed("accurate");
    let int8_rows = score_seed_with("accurate", &["--int8"]);
    assert_eq!(f32_rows.len(), 16);
    assert_eq!(int8_rows.len(), 16);
    let moved = f32_rows
        .iter()
        .zip(&int8_rows)
        .filter(|(a, b)| {
            (a["p_conciliatory"].as_f64().unwrap() - b["p_conciliatory"].as_f64().unwrap()).abs()
                > 1e-4
        })
        .count();
    assert!(moved > 0, "--int8 changed no probability");
}
