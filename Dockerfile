# Build on the Rust image (it has the SQLite and OpenSSL headers, and the perl and make that the
# compiled-in libpq needs), with link-time optimisation (the `dist` profile); run on a slim Debian
# image as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY data ./data
COPY templates ./templates
COPY assets ./assets
COPY tests ./tests
RUN cargo build --profile dist --locked --bin strategy-api

FROM debian:bookworm-slim
# ca-certificates: to verify a managed Postgres's TLS certificate; libsqlite3-0 and libssl3: the
# libraries the binary links. Debian's current versions are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 strategy \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/strategy-api strategy
COPY --from=build /src/target/dist/strategy-api /usr/local/bin/strategy-api
USER 10001:10001
WORKDIR /var/lib/strategy-api
# Every setting comes from the environment; these are the container's defaults.
ENV DATABASE_URL=/var/lib/strategy-api/strategy.sqlite3 \
    BIND=0.0.0.0:8080 \
    RUST_LOG=info
VOLUME ["/var/lib/strategy-api"]
EXPOSE 8080
ENTRYPOINT ["strategy-api"]
CMD ["serve"]
