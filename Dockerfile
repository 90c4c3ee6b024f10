# syntax=docker/dockerfile:1
# Tenantry: one image for every role; the subcommand picks it (`serve`, `worker`, `migrate`, `admin`). `serve`
# also serves the web console (web/, built here) at `/`.
#
#   docker build -t tenantry:local .
#   docker run --rm tenantry:local --help
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts: the cargo registry and the target
# directory survive between builds, so a source change recompiles only the workspace crates.
# No protoc is needed (temporalio-client is built with `vendored-protox`), and the SQL migrations are compiled into
# the binary (`sqlx::migrate!`), so the runtime image holds the binary and the console's static files. See
# docs/deploy.md.

ARG RUST_VERSION=1.95
ARG NODE_VERSION=22
ARG DEBIAN_RELEASE=bookworm

# ---- web console -------------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS console
WORKDIR /web
COPY web/package.json web/package-lock.json ./
# `npm install`, not `npm ci`: the lock cannot record one of vite's optional packages (scripts/lib.sh, ensure_web_deps).
# No browsers: Playwright is only for the end-to-end tests.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
COPY web ./
RUN npm run build

# ---- build -----------------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# Only what the build reads: the workspace manifests, the crates and the migrations they embed.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY migrations ./migrations
# The target directory is a cache mount (gone after this step), so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p tenantry --bin tenantry \
    && install -D -m 0755 target/release/tenantry /out/tenantry

# ---- runtime ---------------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to PostgreSQL, Redis, Temporal and SMTP servers that use the system's trust store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tenantry \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tenantry
COPY --from=build /out/tenantry /usr/local/bin/tenantry
# The binary serves the console from `web/dist` below its working directory (crates/http/src/console.rs).
WORKDIR /app
COPY --from=console /web/dist /app/web/dist

LABEL org.opencontainers.image.title="tenantry" \
      org.opencontainers.image.description="Multi-tenant SaaS backend: API, Temporal workers, migrations" \
      org.opencontainers.image.licenses="MIT"

# Secure defaults for a container: production (no development mailbox; SMTP must be configured) and an API
# that listens on every interface. Everything else comes from the environment (README.md, Configuration).
ENV APP_ENV=production \
    BIND_ADDR=0.0.0.0:8000

# Non-root; the process writes nothing to disk, so a read-only root filesystem works.
USER 10001:10001
# 8000: API (`serve`); 8001: worker health (`worker`, WORKER_HEALTH_PORT).
EXPOSE 8000 8001
# SIGTERM drains gracefully (api.md §8, workflows.md §1.2); the binary handles signals itself as PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tenantry"]
CMD ["serve"]
