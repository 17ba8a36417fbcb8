//! Builds the eBPF programs of `ftrace-ebpf` for the bpf target (nightly + bpf-linker,
//! which `cargo xtask` installs) and leaves the object in OUT_DIR for `include_bytes_aligned!`.
fn main() -> anyhow::Result<()> {
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "ftrace-ebpf",
            root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../ftrace-ebpf"),
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
