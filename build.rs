//! With the `train` feature the binary links libtorch from tools/setup_libtorch.sh; an
//! rpath to it lets the binary run without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_TRAIN").is_some()
        && let Some(dir) = std::env::var_os("LIBTORCH")
    {
        let lib = std::path::Path::new(&dir).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
