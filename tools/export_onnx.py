#!/usr/bin/env python3
"""Export a BERT (MiniLM) or MPNet sentence encoder to ONNX without torch.

Why this tool exists: torch cannot be installed here, so the usual
`torch.onnx.export` route is closed. Instead the ONNX graph is written op by op
with `onnx.helper`, and the weights are read straight from the model's
`model.safetensors` (parsed with numpy) and stored as float32 initializers.

To make sure the hand-built graph computes the same function as the original
model, `--check` runs an independent float64 numpy implementation of the same
architecture (following Hugging Face's BertModel / MPNetModel) next to
onnxruntime and compares the outputs. The one piece both sides share is the
integer table of MPNet relative-position buckets (`relative_position_bucket`).

Graph contract (the Rust side relies on it):
  inputs   input_ids       int64   [batch, seq]
           attention_mask  int64   [batch, seq]   1 = token, 0 = padding
  outputs  sentence_embedding  float32 [batch, hidden]  mean of the last hidden
                                states over tokens with mask 1, not normalised
           last_hidden_state   float32 [batch, seq, hidden]
  opset 17; any seq length from 1 to 512.

Usage:
  python3 tools/export_onnx.py --model-dir DIR --arch bert|mpnet --out FILE.onnx \
      [--int8 FILE_INT8.onnx] [--check]
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17
# Added to the attention scores of padded keys; exp() of it underflows to exactly 0.
MASK_NEGATIVE = float(np.finfo(np.float32).min) / 2
# MPNet: relative-position buckets (T5 style, bidirectional), as in HF's MPNetEncoder.
MPNET_NUM_BUCKETS = 32
MPNET_MAX_DISTANCE = 128

CHECK_SENTENCES = [
    "The cat sat on the mat.",
    "Hi.",
    "Prime Minister announced a new budget on Tuesday, cutting taxes for small businesses.",
    "Le gouvernement a présenté son budget mardi.",
    "Stocks fell sharply after the central bank raised interest rates by half a point, "
    "the largest increase in more than two decades, surprising analysts who had expected "
    "a smaller move.",
    "Why?",
    "Researchers at the university published a study on coral reefs in the Pacific.",
    "Flooding displaced thousands of residents in the northern province.",
]
LONG_CHECK_SEED = 0


@dataclass(frozen=True)
class LayerNames:
    """Weight-name suffixes of one encoder layer (prefix: encoder.layer.N.)."""

    q: str
    k: str
    v: str
    o: str
    attn_ln: str
    inter: str
    out: str
    out_ln: str


LAYER_NAMES = {
    "bert": LayerNames(
        q="attention.self.query",
        k="attention.self.key",
        v="attention.self.value",
        o="attention.output.dense",
        attn_ln="attention.output.LayerNorm",
        inter="intermediate.dense",
        out="output.dense",
        out_ln="output.LayerNorm",
    ),
    "mpnet": LayerNames(
        q="attention.attn.q",
        k="attention.attn.k",
        v="attention.attn.v",
        o="attention.attn.o",
        attn_ln="attention.LayerNorm",
        inter="intermediate.dense",
        out="output.dense",
        out_ln="output.LayerNorm",
    ),
}


@dataclass(frozen=True)
class Config:
    arch: str
    hidden: int
    heads: int
    layers: int
    eps: float
    pad_id: int
    max_seq: int

    @property
    def head_dim(self):
        return self.hidden // self.heads


def load_config(model_dir, arch):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    if c["hidden_act"] != "gelu":
        raise SystemExit(f"unsupported hidden_act {c['hidden_act']!r} (only exact gelu)")
    if arch == "bert" and c.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit("only absolute position embeddings are supported for bert")
    if arch == "mpnet" and c["relative_attention_num_buckets"] != MPNET_NUM_BUCKETS:
        raise SystemExit("unexpected relative_attention_num_buckets")
    # MPNet positions start at pad_id + 1, so two rows of its table are never used by tokens.
    reserved = c["pad_token_id"] + 1 if arch == "mpnet" else 0
    return Config(
        arch=arch,
        hidden=c["hidden_size"],
        heads=c["num_attention_heads"],
        layers=c["num_hidden_layers"],
        eps=c["layer_norm_eps"],
        pad_id=c["pad_token_id"],
        max_seq=c["max_position_embeddings"] - reserved,
    )


def load_safetensors(path):
    """Read a .safetensors file into {name: read-only numpy array}."""
    dtypes = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4"}
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(dtypes[info["dtype"]])
        array = np.frombuffer(data, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start)
        tensors[name] = array.reshape(info["shape"])
    return tensors


def relative_position_bucket(relative_position):
    """MPNet/T5 bidirectional bucket of (memory - context) positions, as HF computes it.

    Mirrors MPNetEncoder.relative_position_bucket (float32 log, truncation to int).
    """
    n = -relative_position
    half = MPNET_NUM_BUCKETS // 2
    bucket = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    n_float = np.maximum(n, 1).astype(np.float32)  # log(0) avoided; n < max_exact uses n itself
    log_ratio = np.log(n_float / np.float32(max_exact)) / np.float32(math.log(MPNET_MAX_DISTANCE / max_exact))
    large = max_exact + (log_ratio * np.float32(half - max_exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return bucket + np.where(n < max_exact, n, large)


# ----------------------------------------------------------------------------------------
# ONNX graph
# ----------------------------------------------------------------------------------------


class GraphBuilder:
    """Collects nodes and initializers; names are deterministic (a running counter)."""

    def __init__(self, weights):
        self.weights = weights
        self.nodes = []
        self.initializers = []
        self._consts = {}

    def weight(self, name, transpose=False):
        """Add a safetensors tensor as a float32 initializer (transposed for MatMul)."""
        array = self.weights[name]
        if transpose:
            array = array.T
            name = name + ".T"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def table(self, name, array):
        """Add a derived array (not a safetensors tensor) as an initializer."""
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, value, dtype):
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._consts:
            self._consts[key] = self.table(f"const_{len(self._consts)}", array)
        return self._consts[key]

    def op(self, op_type, inputs, out=None, **attrs):
        name = f"{op_type}_{len(self.nodes)}"
        out = out or name
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out


def linear(g, x, prefix):
    return g.op("Add", [g.op("MatMul", [x, g.weight(prefix + ".weight", transpose=True)]),
                        g.weight(prefix + ".bias")])


def layer_norm(g, x, prefix, cfg, out=None):
    return g.op("LayerNormalization", [x, g.weight(prefix + ".weight"), g.weight(prefix + ".bias")],
                out=out, axis=-1, epsilon=cfg.eps)


def gelu(g, x):
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    erf = g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2.0), np.float32)])])
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5, np.float32)]),
                        g.op("Add", [erf, g.const(1.0, np.float32)])])


def bert_embeddings(g, input_ids, seq_len, cfg):
    """word + absolute position (rows 0..L-1) + token type 0, then LayerNorm."""
    words = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), input_ids])
    # Slice rather than Gather(Range(L)): onnxruntime 1.32's extended optimizer rewrites
    # Gather(Range) into a Slice that then fails at run time ("Starts must be a 1-D array").
    pos = g.op("Slice", [g.weight("embeddings.position_embeddings.weight"), g.const([0], np.int64),
                         seq_len, g.const([0], np.int64)])
    token_type0 = g.table("embeddings.token_type_embeddings.weight[0]",
                          g.weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))
    summed = g.op("Add", [g.op("Add", [words, pos]), token_type0])
    return layer_norm(g, summed, "embeddings.LayerNorm", cfg)


def mpnet_embeddings(g, input_ids, attention_mask, cfg):
    """word + position, positions RoBERTa style: cumsum(mask) * mask + pad_id.

    HF derives the mask from input_ids != pad_id; with padding done by the pad token
    (as the tokenizer does) that is the attention mask, which is what the graph uses.
    """
    running = g.op("CumSum", [attention_mask, g.const(1, np.int64)])
    position_ids = g.op("Add", [g.op("Mul", [running, attention_mask]), g.const(cfg.pad_id, np.int64)])
    words = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), input_ids])
    pos = g.op("Gather", [g.weight("embeddings.position_embeddings.weight"), position_ids])
    return layer_norm(g, g.op("Add", [words, pos]), "embeddings.LayerNorm", cfg)


def mpnet_position_bias(g, seq_len, cfg):
    """[1, heads, L, L] relative-position bias, shared by all layers.

    bucket[q, k] = table[k - q + max_seq - 1], table precomputed for every offset
    in -(max_seq-1)..(max_seq-1); then a lookup in encoder.relative_attention_bias.
    """
    offsets = np.arange(-(cfg.max_seq - 1), cfg.max_seq, dtype=np.int64)
    table = g.table("relative_position_bucket_table", relative_position_bucket(offsets))
    positions = g.op("Range", [g.const(0, np.int64), g.op("Squeeze", [seq_len]), g.const(1, np.int64)])
    memory = g.op("Unsqueeze", [positions, g.const([0], np.int64)])
    context = g.op("Unsqueeze", [positions, g.const([1], np.int64)])
    index = g.op("Add", [g.op("Sub", [memory, context]), g.const(cfg.max_seq - 1, np.int64)])
    buckets = g.op("Gather", [table, index])
    values = g.op("Gather", [g.weight("encoder.relative_attention_bias.weight"), buckets])  # [L, L, H]
    return g.op("Unsqueeze", [g.op("Transpose", [values], perm=[2, 0, 1]), g.const([0], np.int64)])


def attention(g, x, score_bias, prefix, names, cfg):
    """Multi-head self-attention, output projection included: o(softmax(qk^T/sqrt(d) + bias) v)."""
    split = g.const([0, 0, cfg.heads, cfg.head_dim], np.int64)

    def heads(name, perm):
        return g.op("Transpose", [g.op("Reshape", [linear(g, x, prefix + name), split])], perm=perm)

    q = heads(names.q, [0, 2, 1, 3])  # [B, H, L, d]
    k_t = heads(names.k, [0, 2, 3, 1])  # [B, H, d, L]
    v = heads(names.v, [0, 2, 1, 3])
    scores = g.op("Div", [g.op("MatMul", [q, k_t]), g.const(math.sqrt(cfg.head_dim), np.float32)])
    probs = g.op("Softmax", [g.op("Add", [scores, score_bias])], axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    merged = g.op("Reshape", [context, g.const([0, 0, cfg.hidden], np.int64)])
    return linear(g, merged, prefix + names.o)


def encoder_layer(g, x, score_bias, index, cfg, out=None):
    prefix = f"encoder.layer.{index}."
    names = LAYER_NAMES[cfg.arch]
    attended = g.op("Add", [attention(g, x, score_bias, prefix, names, cfg), x])
    x = layer_norm(g, attended, prefix + names.attn_ln, cfg)
    hidden = gelu(g, linear(g, x, prefix + names.inter))
    return layer_norm(g, g.op("Add", [linear(g, hidden, prefix + names.out), x]),
                      prefix + names.out_ln, cfg, out=out)


def mean_pooling(g, hidden, mask_float, out):
    """Sum of hidden states over tokens with mask 1, divided by their count (min 1e-9)."""
    mask3 = g.op("Unsqueeze", [mask_float, g.const([2], np.int64)])  # [B, L, 1]
    axis1 = g.const([1], np.int64)
    summed = g.op("ReduceSum", [g.op("Mul", [hidden, mask3]), axis1], keepdims=0)
    count = g.op("ReduceSum", [mask3, axis1], keepdims=0)  # [B, 1]
    return g.op("Div", [summed, g.op("Max", [count, g.const(1e-9, np.float32)])], out=out)


def build_model(weights, cfg):
    g = GraphBuilder(weights)
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)  # [L]
    mask_float = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    # (1 - mask) * large negative, shaped [B, 1, 1, L] to broadcast over heads and queries.
    mask_bias = g.op("Unsqueeze", [
        g.op("Mul", [g.op("Sub", [g.const(1.0, np.float32), mask_float]),
                     g.const(MASK_NEGATIVE, np.float32)]),
        g.const([1, 2], np.int64)])

    if cfg.arch == "bert":
        x = bert_embeddings(g, "input_ids", seq_len, cfg)
        score_bias = mask_bias
    else:
        x = mpnet_embeddings(g, "input_ids", "attention_mask", cfg)
        score_bias = g.op("Add", [mpnet_position_bias(g, seq_len, cfg), mask_bias])

    for i in range(cfg.layers):
        last = i == cfg.layers - 1
        x = encoder_layer(g, x, score_bias, i, cfg, out="last_hidden_state" if last else None)
    mean_pooling(g, x, mask_float, out="sentence_embedding")

    graph = helper.make_graph(
        g.nodes,
        f"{cfg.arch}_sentence_encoder",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        outputs=[
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", cfg.hidden]),
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                          ["batch", "seq", cfg.hidden]),
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="partyline tools/export_onnx.py")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"arch": cfg.arch, "pooling": "mean",
                                   "max_seq_len": str(cfg.max_seq)})
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------------
# float64 numpy reference (independent of the graph code above)
# ----------------------------------------------------------------------------------------


def ref_layer_norm(x, w, prefix, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w(prefix + ".weight") + w(prefix + ".bias")


def ref_linear(x, w, prefix):
    return x @ w(prefix + ".weight").T + w(prefix + ".bias")


_erf = np.frompyfunc(math.erf, 1, 1)


def ref_gelu(x):
    return x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def ref_embeddings(input_ids, w, cfg):
    words = w("embeddings.word_embeddings.weight")[input_ids]
    if cfg.arch == "bert":
        positions = np.arange(input_ids.shape[1])[None, :]
        summed = words + w("embeddings.position_embeddings.weight")[positions] \
            + w("embeddings.token_type_embeddings.weight")[0]
    else:  # HF create_position_ids_from_input_ids: non-pad tokens count from pad_id + 1
        not_pad = (input_ids != cfg.pad_id).astype(np.int64)
        positions = np.cumsum(not_pad, axis=1) * not_pad + cfg.pad_id
        summed = words + w("embeddings.position_embeddings.weight")[positions]
    return ref_layer_norm(summed, w, "embeddings.LayerNorm", cfg.eps)


def ref_position_bias(seq_len, w):
    steps = np.arange(seq_len)
    buckets = relative_position_bucket(steps[None, :] - steps[:, None])  # memory - context
    return w("encoder.relative_attention_bias.weight")[buckets].transpose(2, 0, 1)[None]


def ref_attention(x, keep, bias, w, prefix, names, cfg):
    b, n, _ = x.shape

    def heads(name):
        return ref_linear(x, w, prefix + name).reshape(b, n, cfg.heads, cfg.head_dim).transpose(0, 2, 1, 3)

    q, k, v = heads(names.q), heads(names.k), heads(names.v)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(cfg.head_dim) + bias
    scores = np.where(keep[:, None, None, :], scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n, cfg.hidden)
    return ref_linear(context, w, prefix + names.o)


def reference_forward(weights, cfg, input_ids, attention_mask):
    """Return (sentence_embedding, last_hidden_state) in float64."""
    def w(name):
        return weights[name].astype(np.float64)

    names = LAYER_NAMES[cfg.arch]
    keep = attention_mask == 1
    bias = ref_position_bias(input_ids.shape[1], w) if cfg.arch == "mpnet" else 0.0
    x = ref_embeddings(input_ids, w, cfg)
    for i in range(cfg.layers):
        prefix = f"encoder.layer.{i}."
        x = ref_layer_norm(ref_attention(x, keep, bias, w, prefix, names, cfg) + x, w,
                           prefix + names.attn_ln, cfg.eps)
        ffn = ref_linear(ref_gelu(ref_linear(x, w, prefix + names.inter)), w, prefix + names.out)
        x = ref_layer_norm(ffn + x, w, prefix + names.out_ln, cfg.eps)
    m = keep[:, :, None].astype(np.float64)
    return (x * m).sum(1) / m.sum(1), x


# ----------------------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------------------


def tokenize(model_dir, cfg, sentences):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_padding(pad_id=cfg.pad_id, pad_token=tok.id_to_token(cfg.pad_id))  # to the longest
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    return ids, mask


def ort_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def run_ort(session, ids, mask):
    emb, hidden = session.run(["sentence_embedding", "last_hidden_state"],
                              {"input_ids": ids, "attention_mask": mask})
    return emb, hidden


def cosines(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def compare(label, weights, cfg, session, ids, mask):
    """Print graph-vs-reference diffs; return the max abs diff of sentence_embedding."""
    ref_emb, ref_hidden = reference_forward(weights, cfg, ids, mask)
    emb, hidden = run_ort(session, ids, mask)
    keep = mask == 1
    emb_diff = float(np.abs(emb - ref_emb).max())
    hidden_diff = float(np.abs(hidden[keep] - ref_hidden[keep]).max())
    print(f"{label}: shape {list(ids.shape)}  max|d| sentence_embedding {emb_diff:.3e}  "
          f"max|d| last_hidden_state (unpadded) {hidden_diff:.3e}  "
          f"min cosine {cosines(emb, ref_emb).min():.9f}")
    return emb_diff


def check(model_dir, weights, cfg, onnx_path):
    """Graph vs float64 reference, and padding invariance. Returns True when all pass."""
    session = ort_session(onnx_path)
    ids, mask = tokenize(model_dir, cfg, CHECK_SENTENCES)
    ok = True

    emb_diff = compare("check sentences", weights, cfg, session, ids, mask)
    ok &= emb_diff <= 1e-4

    rng = np.random.default_rng(LONG_CHECK_SEED)
    vocab = weights["embeddings.word_embeddings.weight"].shape[0]
    long_ids = rng.integers(1000, vocab, size=(1, cfg.max_seq), dtype=np.int64)
    emb_diff = compare(f"random ids at max length {cfg.max_seq}", weights, cfg, session,
                       long_ids, np.ones_like(long_ids))
    ok &= emb_diff <= 1e-4

    batch_emb, batch_hidden = run_ort(session, ids, mask)
    pad_diff = 0.0
    for i in range(len(CHECK_SENTENCES)):
        n = int(mask[i].sum())
        emb, hidden = run_ort(session, ids[i : i + 1, :n], mask[i : i + 1, :n])
        pad_diff = max(pad_diff, float(np.abs(emb[0] - batch_emb[i]).max()),
                       float(np.abs(hidden[0] - batch_hidden[i, :n]).max()))
    print(f"padding: alone vs in padded batch, max|d| (embedding and unpadded hidden) {pad_diff:.3e}")
    ok &= pad_diff <= 1e-5
    return bool(ok)


def quantize_int8(model_dir, cfg, f32_path, int8_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(f32_path, int8_path, per_channel=True, weight_type=QuantType.QInt8)
    ids, mask = tokenize(model_dir, cfg, CHECK_SENTENCES)
    f32_emb, _ = run_ort(ort_session(f32_path), ids, mask)
    int8_emb, _ = run_ort(ort_session(int8_path), ids, mask)
    cos = cosines(int8_emb, f32_emb)
    print(f"int8 vs f32 sentence_embedding cosine: min {cos.min():.6f} mean {cos.mean():.6f}")


def describe(path):
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{path}: {os.path.getsize(path)} bytes  sha256 {digest}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, help="folder with config.json, model.safetensors, tokenizer.json")
    parser.add_argument("--arch", required=True, choices=sorted(LAYER_NAMES))
    parser.add_argument("--out", required=True, help="float32 .onnx file to write")
    parser.add_argument("--int8", help="also write a dynamically quantized (QInt8, per channel) model here")
    parser.add_argument("--check", action="store_true", help="compare with the float64 numpy reference")
    args = parser.parse_args()

    cfg = load_config(args.model_dir, args.arch)
    weights = load_safetensors(os.path.join(args.model_dir, "model.safetensors"))

    start = time.perf_counter()
    onnx.save_model(build_model(weights, cfg), args.out)
    print(f"export: {time.perf_counter() - start:.1f} s")
    describe(args.out)

    ok = True
    if args.check:
        start = time.perf_counter()
        ok = check(args.model_dir, weights, cfg, args.out)
        print(f"check: {'PASS' if ok else 'FAIL'} ({time.perf_counter() - start:.1f} s)")
    if args.int8:
        start = time.perf_counter()
        quantize_int8(args.model_dir, cfg, args.out, args.int8)
        print(f"int8: {time.perf_counter() - start:.1f} s")
        describe(args.int8)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
