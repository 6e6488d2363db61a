# Sentinel's image. Two ways to the same runtime image:
#   docker build -t sentinel .          from source (this file's last stage)
#   scripts/image-from-build [TAG]      from a release build made on the host, in seconds: it
#                                       builds the `runtime-base` stage below with the host's
#                                       `target/release/server` and `target/site` added.

# ---- runtime base: slim Debian, a non-root user, the settings, the health check -------------
# (scripts/image-from-build uses this stage as it is: keep it free of references to others.)
FROM debian:bookworm-slim AS runtime-base
RUN useradd --system --uid 10001 --no-create-home --home-dir /app sentinel \
 && mkdir -p /app/config && chown -R sentinel /app
WORKDIR /app
ENV LEPTOS_SITE_ADDR=0.0.0.0:3001 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD \
    REDIS_URL=redis://redis:6379/0 \
    RUST_LOG=info
USER sentinel
EXPOSE 3001
# The server asks itself (no curl in the image): healthy once it has reached Redis.
HEALTHCHECK --interval=5s --timeout=4s --start-period=10s --retries=3 \
  CMD ["/app/server", "health"]
# The server is PID 1 and handles SIGTERM: the worker hands back what it cannot finish within
# SHUTDOWN_GRACE_MS, then it exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/server"]

# ---- build from source ------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev nodejs npm ca-certificates patch make perl \
 && rm -rf /var/lib/apt/lists/*
# npm trusts the system's certificates too (as cargo does), for registries behind a TLS proxy.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN rustup target add wasm32-unknown-unknown
# Long-building tools in their own layers, so they are cached across source changes.
RUN CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
# Must equal the wasm-bindgen version in Cargo.lock (scripts/lib.sh checks the same).
ARG WASM_BINDGEN_VERSION=0.2.130
RUN CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version ${WASM_BINDGEN_VERSION}
RUN npm install --prefix /opt/binaryen --no-audit --no-fund binaryen@132 esbuild@0.25.12
ENV PATH="/opt/binaryen/node_modules/.bin:${PATH}"

WORKDIR /src
COPY . .
# Our patches to crates (patches/README.md) before anything reads Cargo.toml's [patch] paths.
RUN scripts/patch-crates \
 && cargo leptos build --release --split --features split \
 && scripts/build-home \
 && mkdir -p /out \
 && cp target/release/server /out/server \
 && strip /out/server \
 && cp -r target/site /out/site

# ---- runtime from source (the default target) -------------------------------------------------
FROM runtime-base AS runtime
COPY --from=builder /out/server /app/server
COPY --from=builder /out/site /app/site
