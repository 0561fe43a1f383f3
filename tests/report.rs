//! `partyline report`: the HTML page renders in a real browser and prints the aggregate
//! numbers, the workbook opens in LibreOffice with the same numbers, the terminal table
//! fits 100 columns, and --compare gives B minus A.
//!
//! Chromium and LibreOffice are installed by `.ci/run`; without them the browser and
//! spreadsheet tests say so and pass, unless PARTYLINE_REQUIRE_TOOLS is set (as in CI).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

const FIXTURE: &str = "tests/fixtures/report-records.jsonl";

fn partyline() -> Command {
    Command::cargo_bin("partyline").unwrap()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A tool on PATH, or None (and a note) when it is missing and not required.
fn tool(names: &[&str]) -> Option<String> {
    for n in names {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {n}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return Some(n.to_string());
        }
    }
    if std::env::var_os("PARTYLINE_REQUIRE_TOOLS").is_some() {
        panic!("none of {names:?} is installed (see .ci/run)");
    }
    eprintln!("skipped: none of {names:?} is installed");
    None
}

/// The per-party CSV of `partyline aggregate` for the same records, keyed by party.
fn aggregate_csv(input: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let csv = run_ok(partyline().args(["aggregate", input]));
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let rows = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r.iter().map(String::from).collect())
        })
        .collect();
    (header, rows)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The `<table id=ID>` of the page: rows of (data-col, text) by the row's data-party.
fn page_table(html: &str, id: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let body = &html[start..start + html[start..].find("</table>").unwrap()];
    let mut out = BTreeMap::new();
    for tr in body.split("<tr data-party=\"").skip(1) {
        let party = unescape(&tr[..tr.find('"').unwrap()]);
        let mut cells = BTreeMap::new();
        for td in tr.split("data-col=\"").skip(1) {
            let col = &td[..td.find('"').unwrap()];
            let value = &td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()];
            cells.insert(unescape(col), unescape(value));
        }
        out.insert(party, cells);
    }
    out
}

fn close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() < 1e-6,
        _ => a == b,
    }
}

fn report_html(dir: &Path, args: &[&str]) -> (PathBuf, String) {
    let out = dir.join("report.html");
    run_ok(partyline().arg("report").args(args).arg("-o").arg(&out));
    let html = std::fs::read_to_string(&out).unwrap();
    (out, html)
}

#[test]
fn html_prints_the_aggregate_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = report_html(dir.path(), &[FIXTURE]);
    let (header, expected) = aggregate_csv(FIXTURE);
    let table = page_table(&html, "party-data");
    assert_eq!(table.len(), expected.len());
    for (party, row) in &expected {
        let cells = &table[party];
        for (col, want) in header.iter().zip(row) {
            assert_eq!(&cells[col], want, "{party} {col}");
        }
    }
    // The charts carry the same numbers as the table.
    for (party, row) in &expected {
        let net = &row[header.iter().position(|c| c == "net_score").unwrap()];
        let tag = format!("<g data-party=\"{party}\" data-net=\"");
        let at = html
            .find(&tag)
            .unwrap_or_else(|| panic!("no net point {party}"));
        let v = &html[at + tag.len()..];
        assert!(close(&v[..v.find('"').unwrap()], net), "{party} net");
    }
    // Stance bars: sentences and every share with its interval.
    let stance = &html[html.find("<section id=\"stance\"").unwrap()..];
    let stance = &stance[..stance.find("</section>").unwrap()];
    for (party, row) in &expected {
        let get = |c: &str| &row[header.iter().position(|x| x == c).unwrap()];
        let tag = format!(
            "<g data-party=\"{party}\" data-sentences=\"{}\">",
            get("sentences")
        );
        let g = &stance[stance.find(&tag).unwrap_or_else(|| panic!("{tag}"))..];
        let g = &g[..g.find("</g>").unwrap()];
        for s in ["conciliatory", "accusatory", "threatening", "neutral"] {
            let at = g.find(&format!("data-stance=\"{s}\"")).unwrap();
            let attrs = &g[at..at + g[at..].find('>').unwrap()];
            for (attr, col) in [
                ("data-share", format!("share_{s}")),
                ("data-low", format!("share_{s}_low")),
                ("data-high", format!("share_{s}_high")),
            ] {
                let v = &attrs[attrs.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2..];
                let v = &v[..v.find('"').unwrap()];
                assert!(close(v, get(&col)), "{party} {col}: {v} vs {}", get(&col));
            }
        }
    }
    for section in [
        "stance",
        "net",
        "matrix",
        "timeline",
        "sentiment",
        "examples",
        "method",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{section}\"")),
            "{section}"
        );
    }
    // Self-contained, no scripts, text escaped.
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("&quot;&lt;provocations&gt;&quot;"));
    assert!(!html.contains("<provocations>"));
    assert!(html.contains("labeling-guide.md"));
    assert!(html.contains("@media print"));
}

#[test]
fn examples_are_the_most_confident_per_stance() {
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = report_html(dir.path(), &[FIXTURE]);
    // The top accusatory example for ERI is its accusatory sentence with the highest
    // p_accusatory in the fixture.
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let best = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["stance"] == "accusatory" && r["speakers"][0] == "ERI")
        .max_by(|a, b| {
            a["p_accusatory"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["p_accusatory"].as_f64().unwrap())
        })
        .unwrap();
    let eri = &html[html.find("<table data-party=\"ERI\">").unwrap()..];
    let acc = &eri[eri.find("accusatory</td>").unwrap()..];
    let first_meta = &acc[acc.find("class=\"meta\">").unwrap() + 13..];
    let want = format!(
        "{} #{}, p={:.2}",
        best["doc"].as_str().unwrap(),
        best["n"],
        best["p_accusatory"].as_f64().unwrap()
    );
    assert!(
        first_meta.starts_with(&want),
        "{want} vs {}",
        &first_meta[..40]
    );
}

#[test]
fn html_renders_in_headless_chromium() {
    let Some(chromium) = tool(&["chromium", "chromium-browser", "google-chrome"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = report_html(dir.path(), &[FIXTURE]);
    let png = dir.path().join("page.png");
    let profile = dir.path().join("profile");
    // `timeout` keeps a hung browser from hanging the test run.
    let out = Command::new("timeout")
        .arg("120")
        .arg(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,2000")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::io::BufReader::new(std::fs::File::open(&png).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 2000));
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let ink = pixels
        .chunks(channels)
        .filter(|p| p[..3].iter().any(|&c| c < 235))
        .count();
    // Charts and text cover a good part of the page; a blank or broken page does not.
    assert!(
        ink * 100 > total * 3,
        "only {ink} of {total} pixels are not white"
    );
    // Several chart colours are on screen (conciliatory green, threatening red).
    let has = |rgb: [u8; 3]| {
        pixels.chunks(channels).any(|p| {
            p[..3]
                .iter()
                .zip(rgb)
                .all(|(a, b)| (i16::from(*a) - i16::from(b)).abs() < 6)
        })
    };
    assert!(has([0x2b, 0x8a, 0x3e]) && has([0xc9, 0x2a, 0x2a]));

    // It prints: headless Chromium makes a PDF of it with the print stylesheet.
    let pdf = dir.path().join("page.pdf");
    let out = Command::new("timeout")
        .arg("120")
        .arg(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile2").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let bytes = std::fs::read(&pdf)
        .unwrap_or_else(|e| panic!("no PDF ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"%PDF") && bytes.len() > 10_000);
}

/// Reads one file out of the workbook (a zip of XML parts).
fn xlsx_part(path: &Path, name: &str) -> Option<String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut f = zip.by_name(name).ok()?;
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    Some(s)
}

#[test]
fn workbook_has_the_sheets_and_native_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.xlsx");
    run_ok(partyline().args(["report", FIXTURE, "-o"]).arg(&out));
    let wb = xlsx_part(&out, "xl/workbook.xml").unwrap();
    let names: Vec<&str> = wb
        .split("<sheet name=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        names,
        [
            "Summary",
            "Parties",
            "Dyads",
            "Documents",
            "Timeline",
            "Sentences"
        ]
    );
    let c1 = xlsx_part(&out, "xl/charts/chart1.xml").expect("a chart");
    let c2 = xlsx_part(&out, "xl/charts/chart2.xml").expect("a second chart");
    assert!(c1.contains("<c:barChart>") && c1.contains("<c:grouping val=\"stacked\"/>"));
    assert!(c2.contains("<c:barChart>") && c2.contains("<c:errBars>"));
    assert!(c1.contains("Summary!$C$2:$C$4"));
}

fn read_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header = rdr.headers().unwrap().iter().map(String::from).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// LibreOffice reads the workbook's sheets back with the same numbers as `aggregate`.
#[test]
fn workbook_sheets_match_aggregate_in_libreoffice() {
    let Some(soffice) = tool(&["soffice", "libreoffice"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.xlsx");
    run_ok(partyline().args(["report", FIXTURE, "-o"]).arg(&out));
    // Field 12 of the CSV filter options picks the sheet; -1 writes every sheet to
    // report-<Sheet>.csv (LibreOffice 7.2 and later).
    let conv = Command::new("timeout")
        .arg("180")
        .arg(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.path().join("lo-profile").display()
        ))
        .args([
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
        ])
        .arg(dir.path())
        .arg(&out)
        .output()
        .unwrap();
    for (sheet, table) in [
        ("Parties", "parties"),
        ("Dyads", "dyads"),
        ("Documents", "documents"),
        ("Timeline", "dates"),
    ] {
        let path = dir.path().join(format!("report-{sheet}.csv"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; soffice said: {}",
                path.display(),
                String::from_utf8_lossy(&conv.stderr)
            )
        });
        let (header, rows) = read_csv(&text);
        let want =
            run_ok(partyline().args(["aggregate", FIXTURE, "--table", table, "--period", "week"]));
        let (want_header, want_rows) = read_csv(&want);
        assert_eq!(header, want_header, "{sheet}");
        assert_eq!(rows.len(), want_rows.len(), "{sheet}");
        assert!(!rows.is_empty(), "{sheet}");
        for (got, exp) in rows.iter().zip(&want_rows) {
            for (i, (g, e)) in got.iter().zip(exp).enumerate() {
                assert!(close(g, e), "{sheet} {}: {g} vs {e}", header[i]);
            }
        }
    }
}

#[test]
fn terminal_table_fits_100_columns() {
    let out = run_ok(partyline().args(["report", FIXTURE, "--terminal"]));
    assert!(out.lines().count() >= 5);
    for line in out.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.len()
        );
    }
    let (header, rows) = aggregate_csv(FIXTURE);
    let n = header.iter().position(|c| c == "sentences").unwrap();
    for (party, row) in rows {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{party} ")))
            .unwrap();
        assert_eq!(line.split_whitespace().nth(1).unwrap(), row[n]);
    }
}

/// Splits the fixture by date into September and October files.
fn split_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let (a, b): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.contains("\"2025-09-"));
    let (pa, pb) = (dir.join("sept.jsonl"), dir.join("oct.jsonl"));
    std::fs::write(&pa, a.join("\n")).unwrap();
    std::fs::write(&pb, b.join("\n")).unwrap();
    (pa, pb)
}

#[test]
fn compare_inputs_and_windows_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = split_fixture(dir.path());
    let by_inputs = run_ok(
        partyline()
            .args(["report", "--compare", "--terminal"])
            .arg(&a)
            .arg(&b),
    );
    let by_windows = run_ok(partyline().args([
        "report",
        FIXTURE,
        "--terminal",
        "--window-a",
        "2025-09-01..2025-09-30",
        "--window-b",
        "2025-10-01..",
    ]));
    let change = |s: &str| -> Vec<String> {
        let at = s.find("Change, B minus A").unwrap();
        // The labels (file names or windows) differ; the numbers must not.
        s[at..].lines().skip(3).map(String::from).collect()
    };
    assert_eq!(change(&by_inputs), change(&by_windows));
    for line in by_inputs.lines() {
        assert!(line.chars().count() <= 100, "{line}");
    }
    // B minus A in the page equals the difference of the two aggregate tables.
    let (_, html) = report_html(
        dir.path(),
        &["--compare", a.to_str().unwrap(), b.to_str().unwrap()],
    );
    let table = page_table(&html, "change-data");
    let (h, ra) = aggregate_csv(a.to_str().unwrap());
    let (_, rb) = aggregate_csv(b.to_str().unwrap());
    let col = |row: &Vec<String>, c: &str| -> f64 {
        row[h.iter().position(|x| x == c).unwrap()].parse().unwrap()
    };
    assert_eq!(table.len(), 3);
    for (party, cells) in &table {
        let want = col(&rb[party], "net_score") - col(&ra[party], "net_score");
        let got: f64 = cells["net_score_change"].parse().unwrap();
        assert!((got - want).abs() < 1e-5, "{party}: {got} vs {want}");
        let lo: f64 = cells["net_score_change_low"].parse().unwrap();
        let hi: f64 = cells["net_score_change_high"].parse().unwrap();
        assert!(
            lo <= got && got <= hi && lo < hi,
            "{party}: {lo} {got} {hi}"
        );
        let want = col(&rb[party], "share_threatening") - col(&ra[party], "share_threatening");
        let got: f64 = cells["share_threatening_change"].parse().unwrap();
        assert!((got - want).abs() < 1e-5);
    }
    // The workbook gets a Change sheet.
    let out = dir.path().join("change.xlsx");
    run_ok(
        partyline()
            .args(["report", "--compare"])
            .arg(&a)
            .arg(&b)
            .arg("-o")
            .arg(&out),
    );
    assert!(
        xlsx_part(&out, "xl/workbook.xml")
            .unwrap()
            .contains("<sheet name=\"Change\"")
    );
}

#[test]
fn errors_name_the_file_and_the_usage() {
    let out = partyline()
        .args(["report", "no-such-file.jsonl", "--terminal"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.jsonl"));
    let out = partyline()
        .args(["report", FIXTURE, "--compare", "--terminal"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--compare needs two inputs"));
    let dir = tempfile::tempdir().unwrap();
    let out = partyline()
        .args(["report", FIXTURE, "-o"])
        .arg(dir.path().join("report.pdf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("report.pdf"));
}

/// The seed article scored here with the fast model: the method box names the model.
#[test]
fn seed_article_scored_with_the_fast_model() {
    let seed = Path::new("../shared/examples/istanbul-talks.txt");
    assert!(
        seed.exists(),
        "the seed article is expected at {}",
        seed.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = report_html(dir.path(), &[seed.to_str().unwrap(), "--model", "fast"]);
    let method = &html[html.find("<section id=\"method\"").unwrap()..];
    assert!(method.contains("<dt>model</dt><dd>fast</dd>"));
    assert!(method.contains("istanbul-talks.txt"));
    assert!(!page_table(&html, "party-data").is_empty());
}

/// Hand-coded CSV records without probabilities: read as records by their stance column,
/// examples fall back to input order, and the numbers still match `aggregate`.
#[test]
fn hand_coded_csv_without_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coded.csv");
    std::fs::write(
        &path,
        "doc,n,text,speakers,targets,stance,sentiment,date\n\
a,0,Kenya accused Somalia of meddling.,KEN,SOM,accusatory,negative,2025-01-02\n\
a,1,Kenya welcomed the talks.,KEN,SOM,conciliatory,positive,2025-01-02\n\
b,0,Somalia warned Kenya <again>.,SOM,KEN,threatening,negative,2025-01-09\n\
b,1,Kenya accused Somalia of lying.,KEN,SOM,accusatory,negative,2025-01-09\n\
c,0,The talks resumed.,,,neutral,neutral,2025-01-16\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let (_, html) = report_html(dir.path(), &[p]);
    let (header, expected) = aggregate_csv(p);
    let table = page_table(&html, "party-data");
    for (party, row) in &expected {
        for (col, want) in header.iter().zip(row) {
            assert_eq!(&table[party][col], want, "{party} {col}");
        }
    }
    assert!(html.contains("Somalia warned Kenya &lt;again&gt;."));
    let ken = &html[html.find("<table data-party=\"KEN\">").unwrap()..];
    let acc = &ken[ken.find("accusatory</td>").unwrap()..];
    // No probabilities: the first accusatory sentence in the input comes first.
    assert!(acc.find("of meddling").unwrap() < acc.find("of lying").unwrap());
    assert!(html.contains("none run here"));
}
