#!/usr/bin/env python3
"""Builds the sample corpus (datasets/sample/) from project-written training articles.

The sample is what the README's main command runs on: whole articles as an analyst would
have them (JSONL with id, title, date, source, text; one plain-text article), rebuilt from
the labeled sentences so the text is the project's own. Run from the repository root:
    python3 datasets/tools/build_sample.py
"""
import json
import pathlib

DOCS = [
    "t4-esp-mar-ceuta-crossings-2021",
    "t4-esp-mar-sanchez-rabat-roadmap-2022",
    "t4-ecu-mex-embassy-raid-rupture-2024",
    "t4-col-ven-ambassadors-restored-2022",
    "t4-blr-pol-state-of-emergency-2021",
    "t4-gbr-arg-falklands-referendum-2013",
]
TEXT_DOC = "t4-col-eln-havana-ceasefire-2023"

root = pathlib.Path(__file__).resolve().parents[1]
meta = {}
for line in (root / "train/t4/documents.jsonl").read_text().splitlines():
    if line.strip():
        d = json.loads(line)
        meta[d["doc"]] = d


def body(doc):
    sents = [json.loads(l)["text"] for l in (root / f"train/t4/{doc}.jsonl").read_text().splitlines() if l.strip()]
    headline, rest = sents[0], sents[1:]
    paras = [" ".join(rest[i:i + 3]) for i in range(0, len(rest), 3)]
    return headline, "\n".join(paras)


out = root / "sample"
out.mkdir(exist_ok=True)
with open(out / "articles.jsonl", "w") as f:
    for doc in DOCS:
        headline, text = body(doc)
        rec = {"id": doc, "title": headline, "date": meta[doc]["date"], "source": "partyline sample", "text": text}
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
headline, text = body(TEXT_DOC)
(out / f"{TEXT_DOC}.txt").write_text(headline + "\n\n" + text.replace("\n", "\n\n") + "\n")
print("wrote", out)
