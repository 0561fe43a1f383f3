//! The report as a workbook: the aggregate tables, the sentences, and a Summary sheet with
//! native Excel charts, so analysts can keep working in the spreadsheet they already use.

use std::path::Path;

use rust_xlsxwriter::{
    Chart, ChartErrorBars, ChartErrorBarsType, ChartFormat, ChartRange, ChartSolidFill, ChartType,
    Color, Workbook,
};

use super::{LABEL_GUIDE, Report};
use crate::error::Result;
use crate::export::{Cell, Table, add_table_sheets, save_workbook, xlsx_error};
use crate::record::STANCES;

/// Stance colours shared with the HTML page (conciliatory, accusatory, threatening, neutral).
pub const STANCE_RGB: [u32; 4] = [0x2B8A3E, 0xE8590C, 0xC92A2A, 0xADB5BD];

/// The Summary sheet's table: one row per party (largest first), with the columns the
/// charts read, and the error-bar lengths Excel wants (distance to each bound).
fn summary_table(report: &Report) -> Table {
    let mut columns = vec!["party".to_string(), "sentences".to_string()];
    columns.extend(STANCES.iter().map(|s| format!("share_{s}")));
    columns.extend(
        [
            "net_score",
            "net_score_low",
            "net_score_high",
            "net_score_plus",
            "net_score_minus",
        ]
        .map(String::from),
    );
    let rows = report
        .parties_by_size()
        .into_iter()
        .map(|p| {
            let mut row = vec![Cell::Str(p.party.clone()), Cell::Int(p.sentences)];
            row.extend(p.share.iter().map(|x| Cell::Num(*x)));
            row.extend([
                Cell::Num(p.net),
                Cell::Num(p.net_low),
                Cell::Num(p.net_high),
                Cell::Num(p.net_high - p.net),
                Cell::Num(p.net - p.net_low),
            ]);
            row
        })
        .collect();
    Table {
        name: "Summary".into(),
        columns,
        rows,
    }
}

fn renamed(t: &Table, name: &str) -> Table {
    Table {
        name: name.into(),
        ..t.clone()
    }
}

/// Writes the workbook: Summary (with charts), Parties, Dyads, Documents, Timeline,
/// Sentences, and Change with `--compare`.
pub fn write(report: &Report, path: &Path) -> Result<()> {
    let xerr = xlsx_error(path);
    let summary = summary_table(report);
    let n = summary.rows.len() as u32;
    let mut tables = vec![
        summary,
        renamed(&report.aggs.parties, "Parties"),
        renamed(&report.aggs.dyads, "Dyads"),
        renamed(&report.aggs.documents, "Documents"),
        renamed(&report.aggs.dates, "Timeline"),
        Table::from_rows("Sentences", &report.records, &["doc", "n", "text"]),
    ];
    if let Some(c) = &report.comparison {
        tables.push(c.table());
    }
    let mut wb = Workbook::new();
    add_table_sheets(&mut wb, &tables, path)?;
    let ws = wb.worksheet_from_name("Summary").map_err(&xerr)?;

    // The method block under the table: where the numbers come from.
    let s = &report.aggs.summary;
    let mut method: Vec<(String, Cell)> = vec![
        ("title".into(), Cell::Str(report.title.clone())),
        ("sentences".into(), Cell::Int(s.sentences as i64)),
        ("documents".into(), Cell::Int(s.documents as i64)),
        ("attributed".into(), Cell::Int(s.attributed as i64)),
        ("unattributed".into(), Cell::Int(s.unattributed as i64)),
        ("undated".into(), Cell::Int(s.undated as i64)),
        ("skipped".into(), Cell::Int(report.method.skipped as i64)),
        ("label guide".into(), Cell::Str(LABEL_GUIDE.into())),
        (
            "inputs".into(),
            Cell::Str(
                report
                    .method
                    .inputs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        (
            "bootstrap draws".into(),
            Cell::Int(report.opts.bootstrap as i64),
        ),
        ("seed".into(), Cell::Int(report.opts.seed as i64)),
    ];
    if let Some(m) = &report.method.model {
        method.extend([
            ("model".into(), Cell::Str(m.name.clone())),
            ("encoder".into(), Cell::Str(m.encoder_name.clone())),
            ("int8".into(), Cell::Str(m.int8.to_string())),
            ("model created".into(), Cell::Str(m.created.clone())),
            ("heads sha256".into(), Cell::Str(m.heads_sha256.clone())),
            (
                "dev stance macro-F1".into(),
                Cell::Num(m.scores.dev_stance_macro_f1),
            ),
        ]);
    }
    let top = n + 3;
    for (i, (k, v)) in method.iter().enumerate() {
        let r = top + i as u32;
        ws.write_string(r, 0, k).map_err(&xerr)?;
        match v {
            Cell::Int(x) => ws.write_number(r, 1, *x as f64).map(|_| ()),
            Cell::Num(x) => ws.write_number(r, 1, *x).map(|_| ()),
            other => ws.write_string(r, 1, other.to_text()).map(|_| ()),
        }
        .map_err(&xerr)?;
    }
    if n == 0 {
        return save_workbook(&mut wb, path);
    }
    let height = (120 + 28 * n).clamp(300, 1200);

    let mut stacked = Chart::new(ChartType::BarStacked);
    for (i, rgb) in STANCE_RGB.iter().enumerate() {
        let col = 2 + i as u16;
        stacked
            .add_series()
            .set_name(("Summary", 0, col))
            .set_categories(("Summary", 1, 0, n, 0))
            .set_values(("Summary", 1, col, n, col))
            .set_format(
                ChartFormat::new()
                    .set_solid_fill(ChartSolidFill::new().set_color(Color::RGB(*rgb))),
            );
    }
    stacked.title().set_name("Stance shares per party");
    // Bar charts list categories bottom-up; reversed, the largest party is on top.
    stacked.y_axis().set_reverse();
    stacked.x_axis().set_max(1.0).set_num_format("0%");
    stacked.set_width(640).set_height(height);
    ws.insert_chart(1, 13, &stacked).map_err(&xerr)?;

    let mut net = Chart::new(ChartType::Column);
    let bars = ChartErrorBars::new()
        .set_type(ChartErrorBarsType::Custom(
            ChartRange::new_from_range("Summary", 1, 9, n, 9),
            ChartRange::new_from_range("Summary", 1, 10, n, 10),
        ))
        .clone();
    net.add_series()
        .set_name("net cooperation score (95% interval)")
        .set_categories(("Summary", 1, 0, n, 0))
        .set_values(("Summary", 1, 6, n, 6))
        .set_y_error_bars(&bars);
    net.title().set_name("Net cooperation score per party");
    net.set_width(640).set_height(360);
    let below = 1 + height / 20 + 2;
    ws.insert_chart(below, 13, &net).map_err(&xerr)?;
    save_workbook(&mut wb, path)
}
