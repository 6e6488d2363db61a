# A local stand-in for the official `rust:1.95-slim-bookworm` image, for building Sentinel from
# source where no image can be pulled and rustup cannot download: this machine's own toolchain
# (rustup, stable 1.95 with the wasm32 target), laid out as the official image lays it out.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# The machine's extra CA certificates (TLS to the registries goes through a proxy here).
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
ADD rustup.tar /usr/local/
