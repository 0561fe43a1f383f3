//! The training path (cargo feature `train`, libtorch from tools/setup_libtorch.sh):
//! the tch encoders against the references, and a fine-tuning smoke run per encoder.
//!
//!   eval "$(tools/setup_libtorch.sh)" && cargo test --release --features train --test finetune
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};

use partyline::model::adapter::merged_dir;
use partyline::model::assets::{EncoderAssets, EncoderId, Fetch, encoder_assets, encoder_files};
use partyline::model::encoder::{Encoder, load_tokenizer};
use partyline::model::finetune::network::{NetConfig, Network, relative_position_bucket};
use partyline::model::finetune::{FinetuneOptions, finetune};
use partyline::model::soup::{SoupOptions, soup};
use partyline::model::{Model, resolve_model_dir};
use tch::{Kind, Tensor, nn};

const SENTENCES: [&str; 6] = [
    "The foreign ministry said on Tuesday it would recall its ambassador for consultations.",
    "Rebels warned they would resume attacks if the government did not free the prisoners within a week, a spokesman said.",
    "Talks resumed.",
    "“We are ready to sign,” the mediator told reporters in the capital after a 14-hour session that ended shortly before dawn, adding that both delegations had accepted the draft text on prisoner exchanges, the withdrawal of heavy weapons and the return of displaced families.",
    "Officials denied the report.",
    "The army accused the militia of shelling a market, killing at least 12 civilians.",
];

fn ids(tokenizer: &Path) -> Vec<Vec<i64>> {
    let tok = load_tokenizer(tokenizer).unwrap();
    SENTENCES
        .iter()
        .map(|s| {
            tok.encode(*s, true)
                .unwrap()
                .get_ids()
                .iter()
                .map(|&i| i64::from(i))
                .collect()
        })
        .collect()
}

fn padded(seqs: &[Vec<i64>], pad: i64) -> (Tensor, Tensor) {
    let len = seqs.iter().map(Vec::len).max().unwrap();
    let mut t = vec![pad; seqs.len() * len];
    let mut m = vec![0i64; seqs.len() * len];
    for (r, s) in seqs.iter().enumerate() {
        t[r * len..r * len + s.len()].copy_from_slice(s);
        m[r * len..r * len + s.len()].fill(1);
    }
    let shape = [seqs.len() as i64, len as i64];
    (
        Tensor::from_slice(&t).view(shape),
        Tensor::from_slice(&m).view(shape),
    )
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    (0..t.size()[0])
        .map(|i| Vec::try_from(t.get(i)).unwrap())
        .collect()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn relative_position_buckets_match_the_exporter() {
    // tools/export_onnx.py's relative_position_bucket for offsets -300..=300.
    let text = std::fs::read_to_string("tests/fixtures/mpnet-relative-buckets.txt").unwrap();
    let expected: Vec<i64> = text.trim().split(',').map(|v| v.parse().unwrap()).collect();
    let got: Vec<i64> = (-300..=300).map(relative_position_bucket).collect();
    assert_eq!(got, expected);
}

/// Both encoders on tch against the ONNX graphs of the published weights (which
/// tools/export_onnx.py checks against a float64 reference), one sentence at a time and
/// padded in one batch.
#[test]
fn tch_encoders_match_the_onnx_reference() {
    for id in [EncoderId::Mpnet, EncoderId::MiniLm] {
        let spec = id.spec();
        let dir = encoder_files(spec, Fetch::Allowed).unwrap();
        let assets = encoder_assets(id, false, Fetch::Allowed).unwrap();
        let mut encoder = Encoder::load(&assets, 2, Fetch::Allowed).unwrap();
        let reference = encoder.embed(&SENTENCES, 8).unwrap();
        let reference: Vec<Vec<f32>> = reference.rows().into_iter().map(|r| r.to_vec()).collect();

        let vs = nn::VarStore::new(tch::Device::Cpu);
        let cfg = NetConfig::read(&dir, spec.arch).unwrap();
        let pad = cfg.pad_id;
        let net = Network::load(&dir.join("model.safetensors"), cfg, None, &vs.root()).unwrap();
        let ids = ids(&dir.join("tokenizer.json"));
        let _g = tch::no_grad_guard();
        let single: Vec<Vec<f32>> = ids
            .iter()
            .map(|s| {
                let (t, m) = padded(std::slice::from_ref(s), pad);
                rows(&net.sentence_embedding(&t, &m).unwrap()).remove(0)
            })
            .collect();
        let (t, m) = padded(&ids, pad);
        let batched = rows(&net.sentence_embedding(&t, &m).unwrap());
        let d1 = max_diff(&single, &reference);
        let d2 = max_diff(&batched, &reference);
        eprintln!(
            "{}: tch vs ONNX {d1:.2e} (single), {d2:.2e} (padded batch)",
            spec.name
        );
        assert!(d1 < 1e-5 && d2 < 1e-5, "{}: {d1} {d2}", spec.name);
    }
}

/// Our BERT path against rust-bert's BertModel on the MiniLM weights.
#[test]
fn bert_path_matches_rust_bert() {
    use rust_bert::Config;
    use rust_bert::bert::{BertConfig, BertEmbeddings, BertModel};
    let spec = EncoderId::MiniLm.spec();
    let dir = encoder_files(spec, Fetch::Allowed).unwrap();
    let mut vs = nn::VarStore::new(tch::Device::Cpu);
    let bert: BertModel<BertEmbeddings> =
        BertModel::new(vs.root(), &BertConfig::from_file(dir.join("config.json")));
    vs.load_partial(dir.join("model.safetensors")).unwrap();
    let vs2 = nn::VarStore::new(tch::Device::Cpu);
    let cfg = NetConfig::read(&dir, "bert").unwrap();
    let pad = cfg.pad_id;
    let net = Network::load(&dir.join("model.safetensors"), cfg, None, &vs2.root()).unwrap();
    let (t, m) = padded(&ids(&dir.join("tokenizer.json")), pad);
    let _g = tch::no_grad_guard();
    let out = bert
        .forward_t(Some(&t), Some(&m), None, None, None, None, None, false)
        .unwrap();
    let theirs = rows(&Network::pool(&out.hidden_state.to_kind(Kind::Float), &m));
    let ours = rows(&net.sentence_embedding(&t, &m).unwrap());
    let d = max_diff(&ours, &theirs);
    eprintln!("BERT path vs rust-bert: {d:.2e}");
    assert!(d < 1e-5, "{d}");
}

fn smoke_dev(dir: &Path) -> PathBuf {
    let dev = dir.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    for f in [
        "d1-cmr-amba-canada-mediation-2023.jsonl",
        "d1-dza-fra-expulsions-2025.jsonl",
        "parties.toml",
    ] {
        std::fs::copy(Path::new("datasets/dev/d1").join(f), dev.join(f)).unwrap();
    }
    dev
}

/// The CI smoke test: each encoder fine-tuned on 32 sentences, the loss falls, the merged
/// encoder exports to ONNX, ONNX Runtime agrees with tch within 1e-4, and the written
/// model folder loads and scores through the normal path.
#[test]
fn finetune_smoke_each_encoder() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = smoke_dev(tmp.path());
    for (id, layers) in [(EncoderId::MiniLm, 6), (EncoderId::Mpnet, 2)] {
        let out = tmp.path().join(format!("model-{}", id.key()));
        let opts = FinetuneOptions {
            train: vec![PathBuf::from("datasets/train/t1")],
            dev: vec![dev.clone()],
            out: out.clone(),
            encoder: id,
            layers,
            rank: 8,
            alpha: 16.0,
            epochs: 4,
            patience: 10,
            batch_size: 8,
            learning_rate: 2e-3,
            seed: 7,
            threads: 2,
            init_heads: None,
            limit: Some(32),
            try_int8: false,
            fetch: Fetch::Allowed,
        };
        let outcome = finetune(&opts).unwrap();
        let info = outcome.manifest.adapter.clone().unwrap();
        eprintln!(
            "{}: losses {:?}, dev curve {:?}, ONNX vs tch {:.2e}",
            id.key(),
            outcome.losses,
            outcome.dev_curve,
            outcome.onnx_max_abs_diff
        );
        assert_eq!(outcome.losses.len(), 4);
        assert!(
            outcome.losses[3] < outcome.losses[0],
            "{:?}",
            outcome.losses
        );
        assert!(outcome.onnx_max_abs_diff < 1e-4);
        let dir = resolve_model_dir(out.to_str().unwrap()).unwrap();
        let model = Model::load(&dir, Fetch::Offline, 1).unwrap();
        assert!(model.manifest.adapter.is_some());
        if id == EncoderId::MiniLm {
            // A run souped with itself is that run: the stacked adapter of twice the rank
            // merges into the very same graph.
            let souped = soup(&SoupOptions {
                inputs: vec![out.clone(), out.clone()],
                out: tmp.path().join("soup"),
                dev: vec![dev.clone()],
                fetch: Fetch::Allowed,
                threads: 2,
                try_int8: false,
            })
            .unwrap();
            let soup_info = souped.manifest.adapter.clone().unwrap();
            assert_eq!(soup_info.rank, 2 * info.rank);
            assert_eq!(soup_info.onnx_sha256, info.onnx_sha256);
            assert_eq!(souped.manifest.soup.len(), 2);
            assert!(souped.report.stance.macro_f1 > 0.0);
            let _ = std::fs::remove_dir_all(merged_dir(&soup_info));
        }
        // The merged encoder is rebuilt from the adapter when the cache lacks it.
        let merged = merged_dir(&info);
        let _ = std::fs::remove_dir_all(&merged);
        let assets: EncoderAssets =
            partyline::model::model_assets(&dir, &model.manifest, Fetch::Allowed).unwrap();
        assert!(assets.onnx.exists());
        let _ = std::fs::remove_dir_all(&merged);
    }
}
