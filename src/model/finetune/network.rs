//! The encoders (BERT for MiniLM, MPNet) written on tch, with low-rank adapters.
//!
//! rust-bert has BERT but no MPNet, and neither lets us run a range of layers or attach
//! adapters, which is what makes fine-tuning affordable on two cores: the lower layers
//! run once and are cached, only the top layers run forward and backward. The maths
//! mirrors tools/export_onnx.py (and so Hugging Face's BertModel / MPNetModel): the
//! base weights are the same safetensors the ONNX graph is built from, and the adapters
//! are merged into them for export (`crate::model::adapter`).

use std::collections::BTreeMap;
use std::path::Path;

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::adapter::{AdapterInfo, LORA_TARGETS, layer_weight_names};

/// Config fields the forward pass needs, read from the encoder's `config.json`.
#[derive(Debug, Clone)]
pub struct NetConfig {
    pub arch: String,
    pub hidden: i64,
    pub heads: i64,
    pub layers: usize,
    pub eps: f64,
    pub pad_id: i64,
}

impl NetConfig {
    pub fn read(dir: &Path, arch: &str) -> Result<NetConfig> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        let int = |k: &str| {
            v[k].as_i64()
                .ok_or_else(|| Error::Other(format!("{}: no integer {k}", path.display())))
        };
        Ok(NetConfig {
            arch: arch.to_string(),
            hidden: int("hidden_size")?,
            heads: int("num_attention_heads")?,
            layers: int("num_hidden_layers")? as usize,
            eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12),
            pad_id: int("pad_token_id")?,
        })
    }
}

const MPNET_BUCKETS: i64 = 32;
const MPNET_MAX_DISTANCE: i64 = 128;
const DROPOUT: f64 = 0.1;

/// MPNet/T5 bidirectional bucket of a (memory - context) offset, computed in f32 like
/// `relative_position_bucket` in tools/export_onnx.py.
pub fn relative_position_bucket(relative: i64) -> i64 {
    let n = -relative;
    let half = MPNET_BUCKETS / 2;
    let mut bucket = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        return bucket + n;
    }
    let ratio = (n as f32 / max_exact as f32).ln()
        / ((MPNET_MAX_DISTANCE as f64 / max_exact as f64).ln() as f32);
    let large = (max_exact + (ratio * (half - max_exact) as f32) as i64).min(half - 1);
    bucket += large;
    bucket
}

/// One adapted linear map: frozen `w`, `b` plus `scale * B A`.
struct Linear {
    w: Tensor,
    b: Tensor,
    lora: Option<(Tensor, Tensor)>,
    scale: f64,
}

impl Linear {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.linear(&self.w, Some(&self.b));
        match &self.lora {
            Some((a, b)) => {
                y + x
                    .dropout(DROPOUT, train)
                    .linear::<Tensor>(a, None)
                    .linear::<Tensor>(b, None)
                    * self.scale
            }
            None => y,
        }
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    attn_ln: (Tensor, Tensor),
    inter: Linear,
    out: Linear,
    out_ln: (Tensor, Tensor),
}

/// The encoder: frozen base weights, trainable adapters (in `vs`) on the top layers.
pub struct Network {
    pub cfg: NetConfig,
    base: BTreeMap<String, Tensor>,
    layers: Vec<Layer>,
    /// Layers from this index up carry adapters; the ones below can be cached.
    pub first_adapted: usize,
}

fn take(base: &BTreeMap<String, Tensor>, name: &str) -> Result<Tensor> {
    base.get(name)
        .map(|t| t.shallow_clone())
        .ok_or_else(|| Error::Other(format!("the encoder weights have no {name}")))
}

impl Network {
    /// Loads the base weights and creates adapters under `vs` as `info` describes;
    /// A is random (seeded through tch), B zero, so the untrained network is the base.
    pub fn load(
        weights: &Path,
        cfg: NetConfig,
        info: Option<&AdapterInfo>,
        vs: &nn::Path,
    ) -> Result<Network> {
        let base: BTreeMap<String, Tensor> = Tensor::read_safetensors(weights)
            .map_err(|e| Error::Other(format!("{}: {e}", weights.display())))?
            .into_iter()
            .map(|(n, t)| (n, t.to_kind(Kind::Float).set_requires_grad(false)))
            .collect();
        let first_adapted = info.map_or(cfg.layers, |i| cfg.layers - i.layers);
        let mut layers = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let names = layer_weight_names(&cfg.arch, l)?;
            let lin = |target: &str, name: &str| -> Result<Linear> {
                let w = take(&base, &format!("{name}.weight"))?;
                let b = take(&base, &format!("{name}.bias"))?;
                let lora = match info {
                    Some(i) if l >= first_adapted && LORA_TARGETS.contains(&target) => {
                        let (out, inp) = (w.size()[0], w.size()[1]);
                        let r = i.rank as i64;
                        // tch separates path parts with '.', so the store uses '|'.
                        let stem = name.replace('.', "|");
                        let a = vs.var(
                            &format!("{stem}|lora_a"),
                            &[r, inp],
                            Init::Randn {
                                mean: 0.0,
                                stdev: 1.0 / (inp as f64).sqrt(),
                            },
                        );
                        let b = vs.var(&format!("{stem}|lora_b"), &[out, r], Init::Const(0.0));
                        Some((a, b))
                    }
                    _ => None,
                };
                Ok(Linear {
                    w,
                    b,
                    lora,
                    scale: info.map_or(0.0, |i| i.alpha / i.rank as f64),
                })
            };
            let ln = |name: &str| -> Result<(Tensor, Tensor)> {
                Ok((
                    take(&base, &format!("{name}.weight"))?,
                    take(&base, &format!("{name}.bias"))?,
                ))
            };
            layers.push(Layer {
                q: lin("q", &names.q)?,
                k: lin("k", &names.k)?,
                v: lin("v", &names.v)?,
                o: lin("o", &names.o)?,
                attn_ln: ln(&names.attn_ln)?,
                inter: lin("inter", &names.inter)?,
                out: lin("out", &names.out)?,
                out_ln: ln(&names.out_ln)?,
            });
        }
        Ok(Network {
            cfg,
            base,
            layers,
            first_adapted,
        })
    }

    fn layer_norm(&self, x: &Tensor, p: &(Tensor, Tensor)) -> Tensor {
        x.layer_norm(
            [self.cfg.hidden],
            Some(&p.0),
            Some(&p.1),
            self.cfg.eps,
            false,
        )
    }

    /// Token embeddings after their LayerNorm: [B, L, H].
    pub fn embeddings(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let words = take(&self.base, "embeddings.word_embeddings.weight")?;
        let pos_table = take(&self.base, "embeddings.position_embeddings.weight")?;
        let len = ids.size()[1];
        let summed = if self.cfg.arch == "mpnet" {
            let positions = mask.cumsum(1, Kind::Int64) * mask + self.cfg.pad_id;
            Tensor::embedding(&words, ids, -1, false, false)
                + Tensor::embedding(&pos_table, &positions, -1, false, false)
        } else {
            let types = take(&self.base, "embeddings.token_type_embeddings.weight")?;
            Tensor::embedding(&words, ids, -1, false, false)
                + pos_table.narrow(0, 0, len).unsqueeze(0)
                + types.get(0)
        };
        let ln = (
            take(&self.base, "embeddings.LayerNorm.weight")?,
            take(&self.base, "embeddings.LayerNorm.bias")?,
        );
        Ok(self.layer_norm(&summed, &ln))
    }

    /// The additive attention bias [B or 1, heads, L, L]: padding mask plus, for MPNet,
    /// the relative-position bias shared by all layers.
    pub fn attention_bias(&self, mask: &Tensor) -> Result<Tensor> {
        let len = mask.size()[1];
        let pad: Tensor = (1.0 - mask.to_kind(Kind::Float)) * f64::from(f32::MIN / 2.0);
        let pad = pad.unsqueeze(1).unsqueeze(1);
        if self.cfg.arch != "mpnet" {
            return Ok(pad);
        }
        let buckets: Vec<i64> = (0..len)
            .flat_map(|q| (0..len).map(move |k| relative_position_bucket(k - q)))
            .collect();
        let buckets = Tensor::from_slice(&buckets).view([len, len]);
        let table = take(&self.base, "encoder.relative_attention_bias.weight")?;
        let values = Tensor::embedding(&table, &buckets, -1, false, false); // [L, L, H]
        Ok(values.permute([2, 0, 1]).unsqueeze(0) + pad)
    }

    fn layer(&self, l: usize, x: &Tensor, bias: &Tensor, train: bool) -> Tensor {
        let layer = &self.layers[l];
        let (b, n) = (x.size()[0], x.size()[1]);
        let hd = self.cfg.hidden / self.cfg.heads;
        let split = |t: Tensor| t.view([b, n, self.cfg.heads, hd]).transpose(1, 2);
        let q = split(layer.q.forward(x, train));
        let k = split(layer.k.forward(x, train));
        let v = split(layer.v.forward(x, train));
        let scores = q.matmul(&k.transpose(-1, -2)) / (hd as f64).sqrt() + bias;
        let probs = scores.softmax(-1, Kind::Float).dropout(DROPOUT, train);
        let context = probs
            .matmul(&v)
            .transpose(1, 2)
            .contiguous()
            .view([b, n, self.cfg.hidden]);
        let attended = layer.o.forward(&context, train).dropout(DROPOUT, train) + x;
        let x = self.layer_norm(&attended, &layer.attn_ln);
        let hidden = layer.inter.forward(&x, train).gelu("none");
        let out = layer.out.forward(&hidden, train).dropout(DROPOUT, train) + &x;
        self.layer_norm(&out, &layer.out_ln)
    }

    /// Runs layers `from..to` on hidden states `x`.
    pub fn layers(&self, x: Tensor, bias: &Tensor, from: usize, to: usize, train: bool) -> Tensor {
        let mut x = x;
        for l in from..to {
            x = self.layer(l, &x, bias, train);
        }
        x
    }

    /// Mean over real tokens, then L2 normalisation, as the scoring path does.
    pub fn pool(x: &Tensor, mask: &Tensor) -> Tensor {
        let m = mask.to_kind(Kind::Float).unsqueeze(2);
        let summed = (x * &m).sum_dim_intlist(1, false, Kind::Float);
        let count = m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
        let mean = summed / count;
        let norm = mean
            .square()
            .sum_dim_intlist(1, true, Kind::Float)
            .sqrt()
            .clamp_min(1e-12);
        mean / norm
    }

    /// The whole network's sentence embedding as the scoring path computes it (mean over
    /// real tokens, L2-normalised), for checks against ONNX Runtime.
    pub fn sentence_embedding(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let bias = self.attention_bias(mask)?;
        let x = self.layers(
            self.embeddings(ids, mask)?,
            &bias,
            0,
            self.cfg.layers,
            false,
        );
        Ok(Network::pool(&x, mask))
    }
}
