#!/usr/bin/env python3
"""The Python peers of `partyline bench`, on the sentences partyline scored in the same run.

  (a) hf:   Hugging Face transformers (torch, CPU): AutoModel on the encoder's own
            safetensors, mean pooling over the attention mask (as tools/export_onnx.py
            builds it into our ONNX graph), L2 normalisation, then our trained heads from
            models/NAME/heads.safetensors. The whole path from text to labels is timed.
  (b) ort:  onnxruntime InferenceSession on an ONNX file partyline uses, the same
            tokenizer.json, batch size and thread count. Only tokenization and the session
            runs are timed: this is the raw model throughput the pipeline is held to.

Both get sentences sorted by length and padded to the longest in each batch, as
partyline does (and as sentence-transformers does), so they are compared at their best.
Each peer also reports how often its stance label agrees with partyline's, a check that
the same weights and heads are being run.

Usage (bench/run.sh and `partyline bench --peers PYTHON` call it):
  peers.py --sentences S.jsonl --peer hf --encoder-dir DIR --heads H.safetensors ...
Prints one JSON object on stdout.
"""

import argparse
import json
import os
import resource
import sys
import time

STANCES = ["conciliatory", "accusatory", "threatening", "neutral"]
MAX_TOKENS = 256


def load_sentences(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                texts.append(r["text"])
                labels.append(r.get("stance"))
    return texts, labels


def load_heads(path):
    from safetensors.numpy import load_file

    t = load_file(path)
    return t["stance.weight"], t["stance.bias"]


def stance_labels(emb, w, b):
    import numpy as np

    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    logits = emb @ w.T + b
    return [STANCES[i] for i in logits.argmax(axis=1)]


def batches(order, size):
    for i in range(0, len(order), size):
        yield order[i : i + size]


def run_hf(args, texts):
    import torch
    from transformers import AutoModel, PreTrainedTokenizerFast

    torch.set_num_threads(args.threads)
    tok = PreTrainedTokenizerFast(tokenizer_file=args.tokenizer)
    model = AutoModel.from_pretrained(args.encoder_dir, torch_dtype=torch.float32).eval()
    w, b = load_heads(args.heads)
    wt, bt = torch.from_numpy(w), torch.from_numpy(b)
    # Length by the tokenizer, like sentence-transformers' length sort (not timed: both
    # sides know their inputs' lengths from tokenization they then reuse or redo).
    lengths = [len(e) for e in tok(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])

    def once(sel=order):
        labels = [None] * len(texts)
        with torch.inference_mode():
            for chunk in batches(sel, args.batch_size):
                enc = tok(
                    [texts[i] for i in chunk],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                    return_token_type_ids=False,
                )
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(pooled, dim=1)
                pred = (emb @ wt.T + bt).argmax(dim=1)
                for row, i in enumerate(chunk):
                    labels[i] = STANCES[int(pred[row])]
        return labels

    return once, None, order


def run_ort(args, texts):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(args.tokenizer)
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    pad_id = args.pad_id
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    embeddings = None

    def once(sel=order):
        nonlocal embeddings
        out = None
        for chunk in batches(sel, args.batch_size):
            encs = tok.encode_batch([texts[i] for i in chunk])
            longest = max(len(e.ids) for e in encs)
            ids = np.full((len(chunk), longest), pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), longest), dtype=np.int64)
            for row, e in enumerate(encs):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1
            emb = sess.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
            if out is None:
                out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
            out[chunk] = emb
        embeddings = out
        return None

    def labels():
        w, b = load_heads(args.heads)
        return stance_labels(embeddings, w, b)

    return once, labels, order


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentences", required=True, help="JSONL with text and partyline's stance")
    p.add_argument("--peer", choices=["hf", "ort"], required=True)
    p.add_argument("--encoder-dir", help="config.json + model.safetensors (hf)")
    p.add_argument("--onnx", help="ONNX file (ort)")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--heads", required=True)
    p.add_argument("--pad-id", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()

    texts, ours = load_sentences(args.sentences)
    if not texts:
        sys.exit(f"{args.sentences}: no sentences")
    setup = time.perf_counter()
    once, late_labels, order = (run_hf if args.peer == "hf" else run_ort)(args, texts)
    warmup = order[: 2 * args.batch_size]
    setup = time.perf_counter() - setup
    # A warm-up pass over two batches, so the first timed run pays no lazy setup.
    once(warmup)
    seconds, labels = [], None
    for _ in range(args.runs):
        start = time.perf_counter()
        labels = once()
        seconds.append(time.perf_counter() - start)
    if late_labels is not None:
        labels = late_labels()
    agree = sum(1 for a, b in zip(labels, ours) if a == b and b is not None)
    versions = {"python": sys.version.split()[0]}
    for mod in ("torch", "transformers", "onnxruntime", "tokenizers", "numpy"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    print(
        json.dumps(
            {
                "peer": args.peer,
                "model_file": args.onnx or args.encoder_dir,
                "sentences": len(texts),
                "batch_size": args.batch_size,
                "threads": args.threads,
                "setup_seconds": setup,
                "seconds": seconds,
                "stance_agreement": agree / len(texts),
                "versions": versions,
                "cpu_seconds": sum(os.times()[:2]),
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
