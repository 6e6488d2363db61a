//! Links the server's binaries with compact relative relocations (`DT_RELR`, glibc ≥ 2.36 and
//! binutils ≥ 2.38, as on Debian 12 and the container's image). A position-independent
//! executable, which keeps its address randomised, carries a relocation for every pointer in
//! its read-only data: 2 MB of 24-byte entries, each read by the loader at start-up. Packed,
//! they are 28 KB, and an idle server's resident size fell from 21.1 to 19.6 MiB (VmRSS 2.5 s
//! after start, three runs each).

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
