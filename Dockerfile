# syntax=docker/dockerfile:1
#
# salonbot container image.
#
#   docker build -t salonbot .
#   docker run --rm -p 8080:8080 -e WHATSAPP_APP_SECRET=... -e WHATSAPP_VERIFY_TOKEN=... salonbot
#
# With no DATABASE_URL the bot uses the embedded SQLite file /app/data/salonbot.db; mount a volume on
# /app/data to keep it. docker-compose.yml runs it against Postgres and Redis instead.
# The SQL migrations are embedded in the binary (sqlx::migrate!), so the runtime image needs no copy.

############################ builder ############################
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# 1. Dependencies only: build the locked dependency graph against placeholder sources, so this layer
#    is reused as long as Cargo.toml and Cargo.lock do not change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# 2. The crate itself. migrations/ must be present at compile time: it is embedded in the binary.
COPY build.rs ./
COPY src ./src
COPY migrations ./migrations
# COPY keeps the sources' modification times, which may be older than the placeholder build above;
# touching the crate roots makes cargo rebuild the crate for certain.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -m 0755 target/release/salonbot /usr/local/bin/salonbot

############################ runtime ############################
FROM debian:bookworm-slim AS runtime

# ca-certificates for HTTPS to Meta, Stripe, Chatwoot; curl only for the HEALTHCHECK below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user that owns only the data directory (embedded SQLite store).
RUN groupadd --system --gid 10001 salonbot \
    && useradd --system --uid 10001 --gid salonbot --home-dir /app --shell /usr/sbin/nologin salonbot \
    && mkdir -p /app/data \
    && chown -R salonbot:salonbot /app/data

COPY --from=builder /usr/local/bin/salonbot /usr/local/bin/salonbot
# The salon's catalog (SALON_CONFIG defaults to salon.toml in the working directory); mount your own
# over it, or set SALON_CONFIG.
COPY salon.toml /app/salon.toml
# The conversation flows and the message templates, both read and checked at start-up (FLOWS_DIR,
# TEMPLATES_DIR); mount your own over them to change what the bot says.
COPY flows /app/flows
COPY templates /app/templates

WORKDIR /app
USER salonbot:salonbot

# Inside a container the bot must listen on all interfaces (the default is 127.0.0.1:8080).
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080

# Liveness only: readiness (/health/ready) also needs the WhatsApp secrets and storage, which a
# container orchestrator should check separately.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1

ENTRYPOINT ["salonbot"]
CMD ["serve"]
