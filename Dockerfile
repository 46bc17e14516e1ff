# The MAP platform image: the one `map` binary, run with different arguments
# per role (ARCHITECTURE.md, "One binary, many roles"). Builder and runtime on
# the same Debian release (bookworm), so the glibc the binary links against is
# the one it runs on. The runtime needs no shell: every role is `map …`.
ARG RUST_VERSION=1.90

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p map \
 && install -D -m 0755 target/release/map /out/map

# distroless/cc: glibc, libgcc_s and CA certificates of bookworm; no shell, no
# package manager. The binary needs only libc, libm, libgcc_s and the loader
# (CI checks that with ldd).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/map /usr/local/bin/map
# distroless's nonroot user; the chart runs it as the same uid with a read-only root.
USER 65532:65532
EXPOSE 8000 8001 8002 8003 8004 8080 9000 9001 9002 9003 9004
ENTRYPOINT ["/usr/local/bin/map"]
CMD ["--help"]
