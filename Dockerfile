# Sentinel: multi-stage build. The builder runs `cargo leptos build --release`; the runtime
# image holds only the server binary and the built site.

# ---- build ----------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev nodejs npm ca-certificates patch \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown
# Long-building tools in their own layers, so they are cached across source changes.
RUN CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
# Must equal the wasm-bindgen version in Cargo.lock (scripts/lib.sh checks the same).
ARG WASM_BINDGEN_VERSION=0.2.130
RUN cargo install wasm-bindgen-cli --version ${WASM_BINDGEN_VERSION}
RUN npm install --prefix /opt/binaryen --no-audit --no-fund binaryen@132
ENV PATH="/opt/binaryen/node_modules/.bin:${PATH}"

WORKDIR /src
COPY . .
# Our patches to crates (patches/README.md) before anything reads Cargo.toml's [patch] paths.
RUN scripts/patch-crates \
 && cargo leptos build --release \
 && mkdir -p /out \
 && cp target/release/server /out/server \
 && cp -r target/site /out/site

# ---- run ------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app sentinel
WORKDIR /app
COPY --from=builder /out/server /app/server
COPY --from=builder /out/site /app/site
ENV LEPTOS_SITE_ADDR=0.0.0.0:3001 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD \
    REDIS_URL=redis://redis:6379/0 \
    RUST_LOG=info
USER sentinel
EXPOSE 3001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:3001/healthz || exit 1
# SIGTERM: the worker hands back what it cannot finish within SHUTDOWN_GRACE_MS, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/server"]
