//! The CLI end to end: the output contract, every input format, bad inputs and their
//! messages and exit codes, aggregation and export.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn partyline() -> Command {
    Command::cargo_bin("partyline").unwrap()
}

fn write(dir: &Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn jsonl(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const PARTIES: &str = r#"
[[party]]
id = "TPLF"
name = "Tigray People's Liberation Front"
aliases = ["Tigray People's Liberation Front", "TPLF", "Tigrayan leaders"]
"#;

#[test]
fn sentence_per_line_with_parties_prints_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let parties = write(dir.path(), "p.toml", PARTIES.as_bytes());
    let text = write(
        dir.path(),
        "tigray-talks.txt",
        b"Ethiopia accused the TPLF of rearming in Mekelle.\n\nThe TPLF rejected the charge.\n",
    );
    let out = partyline()
        .args(["attribute", "--sentence-per-line", "--parties"])
        .arg(&parties)
        .args(["--format", "jsonl"])
        .arg(&text)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = jsonl(&out.stdout);
    assert_eq!(recs.len(), 2);
    for key in [
        "doc",
        "n",
        "start",
        "end",
        "text",
        "speakers",
        "targets",
        "attribution",
    ] {
        assert!(recs[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(recs[0]["doc"], "tigray-talks");
    assert_eq!(recs[0]["n"], 0);
    assert_eq!(recs[1]["n"], 1);
    assert_eq!(recs[0]["speakers"], serde_json::json!(["ETH"]));
    assert_eq!(recs[0]["targets"], serde_json::json!(["TPLF"]));
    assert_eq!(recs[1]["speakers"], serde_json::json!(["TPLF"]));
    // Offsets point into the file.
    let src = std::fs::read_to_string(&text).unwrap();
    let (s, e) = (
        recs[1]["start"].as_u64().unwrap() as usize,
        recs[1]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&src[s..e], recs[1]["text"].as_str().unwrap());
}

#[test]
fn jsonl_documents_carry_their_metadata_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write(
        dir.path(),
        "docs.jsonl",
        br#"{"id": "a1", "text": "Kenya recalled its ambassador. Somalia said it regretted the move.", "date": "2020-12-15", "title": "Rift", "source": "wire"}
{"id": "a2", "text": "   "}
"#,
    );
    let out = partyline()
        .args(["attribute", "--format", "jsonl"])
        .arg(&docs)
        .output()
        .unwrap();
    assert!(out.status.success());
    let recs = jsonl(&out.stdout);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["doc"], "a1");
    assert_eq!(recs[1]["date"], "2020-12-15");
    assert_eq!(recs[1]["title"], "Rift");
    assert_eq!(recs[1]["speakers"], serde_json::json!(["SOM"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 empty documents skipped"), "{stderr}");
}

#[test]
fn csv_input_stdin_and_csv_output() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write(dir.path(), "docs.csv", b"id,text,date\nx,\"Morocco said on Monday it would reopen talks, officials said.\",2022-03-18\n");
    let out = partyline().args(["attribute"]).arg(&docs).output().unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with("doc,n,start,end,text,speakers,targets,attribution,title,date,source\r\n"),
        "{csv}"
    );
    assert!(csv.contains(",MAR,"));
    partyline()
        .args(["attribute", "--format", "jsonl", "-"])
        .write_stdin("Algeria and Morocco traded accusations.")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("\"doc\":\"stdin\"")
                .and(predicate::str::contains("\"speakers\":[\"DZA\",\"MAR\"]")),
        );
}

#[test]
fn directories_are_read_recursively_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
    write(dir.path(), "a.txt", b"Chile said it would comply.");
    write(
        &dir.path().join("b/c"),
        "z.md",
        b"Bolivia welcomed the ruling.",
    );
    write(dir.path(), "notes.bin", b"\x00\x01");
    let out = partyline()
        .args(["attribute", "--format", "jsonl"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<String> = jsonl(&out.stdout)
        .iter()
        .map(|r| r["doc"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(docs, ["a", "z"]);
}

#[test]
fn invalid_utf8_names_file_and_byte_and_lossy_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.txt", b"Kenya said \xff no.");
    partyline()
        .arg("attribute")
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.txt (byte 11): invalid UTF-8"));
    partyline()
        .args(["attribute", "--lossy"])
        .arg(&bad)
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{fffd}"));
}

#[test]
fn malformed_jsonl_line_stops_with_its_line_and_keeps_finished_records() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write(dir.path(), "docs.jsonl", b"{\"id\":\"a\",\"text\":\"Kenya protested.\"}\n{\"id\": oops}\n{\"id\":\"c\",\"text\":\"Somalia agreed.\"}\n");
    let out_path = dir.path().join("out.jsonl");
    partyline()
        .args(["attribute", "-o"])
        .arg(&out_path)
        .arg(&docs)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("docs.jsonl:2: malformed JSON").and(predicate::str::contains(
                "1 records finished before the error were kept",
            )),
        );
    assert!(
        !out_path.exists(),
        "a failed run must not leave a file that looks complete"
    );
    let partial = dir.path().join("out.jsonl.partial");
    assert_eq!(
        std::fs::read_to_string(&partial).unwrap().lines().count(),
        1
    );
    // --skip-bad goes on and counts.
    partyline()
        .args(["attribute", "--skip-bad", "-o"])
        .arg(&out_path)
        .arg(&docs)
        .assert()
        .success()
        .stderr(predicate::str::contains("1 bad records skipped"));
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap().lines().count(),
        2
    );
}

#[test]
fn missing_fields_and_bad_dates_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let docs = write(dir.path(), "docs.jsonl", b"{\"body\":\"x\",\"id\":\"a\"}\n");
    partyline()
        .arg("attribute")
        .arg(&docs)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "docs.jsonl:1: missing field \"text\"",
        ));
    partyline()
        .args(["attribute", "--text-field", "body"])
        .arg(&docs)
        .assert()
        .success();
    let docs = write(
        dir.path(),
        "dated.csv",
        b"id,text,date\na,Hello.,yesterday\n",
    );
    partyline()
        .arg("attribute")
        .arg(&docs)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("dated.csv:2: field \"date\""));
}

#[test]
fn usage_errors_exit_2_and_missing_files_exit_1() {
    partyline()
        .args(["attribute", "--format", "pdf", "x.txt"])
        .assert()
        .code(2);
    partyline().arg("frobnicate").assert().code(2);
    partyline()
        .args(["attribute", "no/such/file.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no/such/file.txt"));
}

#[test]
fn bad_parties_file_is_reported_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.toml", b"[[party]]\nid = \"AAA\"\naliases = [\"Foo\"]\n\n[[party]]\nid = \"BBB\"\naliases = [\"Foo\"]\n");
    partyline()
        .args(["parties", "--parties"])
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "p.toml:7: error: alias \"Foo\" is on two ids: AAA (line 3) and BBB",
        ));
    let broken = write(
        dir.path(),
        "broken.toml",
        b"[[party]]\nid = \"AAA\"\naliases = [\"Foo\"\n",
    );
    partyline()
        .args(["parties", "--parties"])
        .arg(&broken)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("broken.toml:").and(predicate::str::contains("invalid TOML")),
        );
    partyline()
        .args(["attribute", "--parties"])
        .arg(&broken)
        .arg(&p)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.toml:"));
}

#[test]
fn parties_lists_the_builtin_dictionary() {
    let out = partyline()
        .args(["parties", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows = jsonl(&out.stdout);
    let states = rows.iter().filter(|r| r["kind"] == "state").count();
    assert_eq!(states, 193, "every UN member");
    for id in [
        "PSE", "VAT", "UN", "EU", "NATO", "AU", "ASEAN", "IAEA", "TTP",
    ] {
        assert!(rows.iter().any(|r| r["id"] == id), "{id} missing");
    }
}

const CODED: &str = r#"{"doc":"a","n":0,"text":"x","speakers":["ETH"],"targets":["ERI"],"stance":"accusatory","sentiment":"negative","date":"2025-10-02"}
{"doc":"a","n":1,"text":"y","speakers":["ERI"],"targets":["ETH"],"stance":"threatening","sentiment":"negative","date":"2025-10-02"}
{"doc":"b","n":0,"text":"z","speakers":["ETH"],"targets":[],"stance":"conciliatory","sentiment":"positive","date":"2025-10-20"}
{"doc":"b","n":1,"text":"w","speakers":[],"targets":[],"stance":"neutral","sentiment":"neutral","date":"2025-10-20"}
"#;

#[test]
fn aggregate_tables_in_csv_jsonl_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let coded = write(dir.path(), "coded.jsonl", CODED.as_bytes());
    let out = partyline()
        .args(["aggregate", "--format", "jsonl"])
        .arg(&coded)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["party"], "ERI");
    assert_eq!(rows[1]["party"], "ETH");
    assert_eq!(rows[1]["sentences"], 2);
    assert_eq!(rows[1]["docs"], 2);
    assert_eq!(rows[1]["net_score"].as_f64().unwrap(), (3.5 - 2.0) / 2.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 sentences in 2 documents; 3 with a speaker, 1 without"),
        "{stderr}"
    );

    let out = partyline()
        .args(["aggregate", "--table", "dates", "--period", "month"])
        .arg(&coded)
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("period,party,sentences,docs,"), "{csv}");
    assert!(csv.contains("\r\n2025-10,ETH,2,2,"), "{csv}");

    let out_dir = dir.path().join("tables");
    partyline()
        .args(["aggregate", "--out-dir"])
        .arg(&out_dir)
        .arg(&coded)
        .assert()
        .success();
    for t in ["parties", "dyads", "documents", "dates"] {
        assert!(out_dir.join(format!("{t}.csv")).exists(), "{t}.csv");
    }
    let xlsx = dir.path().join("t.xlsx");
    partyline()
        .args(["aggregate", "-o"])
        .arg(&xlsx)
        .arg(&coded)
        .assert()
        .success();
    let bytes = std::fs::read(&xlsx).unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX file is a zip archive");
}

#[test]
fn aggregate_rejects_unknown_labels_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let coded = write(
        dir.path(),
        "coded.jsonl",
        b"{\"doc\":\"a\",\"n\":0,\"text\":\"x\",\"speakers\":[\"ETH\"],\"stance\":\"angry\"}\n",
    );
    partyline()
        .arg("aggregate")
        .arg(&coded)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "coded.jsonl:1: unknown stance \"angry\"",
        ));
    let missing = write(
        dir.path(),
        "m.jsonl",
        b"{\"doc\":\"a\",\"n\":0,\"text\":\"x\"}\n",
    );
    partyline()
        .arg("aggregate")
        .arg(&missing)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "m.jsonl:1: record has no \"stance\"",
        ));
}

#[test]
fn aggregate_reads_its_own_csv_output_back() {
    let dir = tempfile::tempdir().unwrap();
    let coded = write(dir.path(), "coded.jsonl", CODED.as_bytes());
    // Round trip: JSONL records -> CSV records (as score/attribute write them) -> aggregate.
    let mut csv = String::from(
        "doc,n,start,end,text,speakers,targets,stance,sentiment,attribution,title,date,source\r\n",
    );
    for l in CODED.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let list = |k: &str| {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(";")
        };
        csv += &format!(
            "{},{},0,0,{},{},{},{},{},verb,,{},\r\n",
            v["doc"].as_str().unwrap(),
            v["n"],
            v["text"].as_str().unwrap(),
            list("speakers"),
            list("targets"),
            v["stance"].as_str().unwrap(),
            v["sentiment"].as_str().unwrap(),
            v["date"].as_str().unwrap()
        );
    }
    let csv_path = write(dir.path(), "coded.csv", csv.as_bytes());
    let a = partyline().arg("aggregate").arg(&coded).output().unwrap();
    let b = partyline()
        .arg("aggregate")
        .arg(&csv_path)
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(a.stdout, b.stdout);
}
