// Starts the server the end-to-end tests run against: a real `tenantry dev` (migrations, API, outbox relay and
// worker in one process) built with cargo, with a fresh database, its own Temporal task queues, on a free port,
// serving the built console from web/dist. global-teardown.ts stops it and drops the database.
//
// Environment (all optional):
//   TENANTRY_BIN                the binary to run (default: `cargo build -p tenantry`, then $CARGO_TARGET_DIR/debug/tenantry)
//   TENANTRY_TEST_DATABASE_URL  PostgreSQL server for the fresh database (default postgres://postgres@127.0.0.1:5432/postgres)
//   TEMPORAL_HOST               Temporal frontend (default 127.0.0.1:7233; scripts/test passes its own server)
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { paths, type ServerState } from "./paths";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function binary(): string {
  if (process.env.TENANTRY_BIN) return process.env.TENANTRY_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache", "tenantry-target");
  console.log(`[e2e] cargo build -p tenantry (CARGO_TARGET_DIR=${target})`);
  execFileSync("cargo", ["build", "-p", "tenantry", "--bin", "tenantry"], {
    cwd: paths.repo,
    stdio: "inherit",
    env: { ...process.env, CARGO_TARGET_DIR: target },
  });
  return join(target, "debug", "tenantry");
}

async function waitUntilReady(url: string, pid: number, log: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`tenantry dev exited before it was ready; see ${log}`);
    }
    try {
      const r = await fetch(`${url}/ready`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`tenantry dev did not become ready at ${url} within ${timeoutMs / 1000} s; see ${log}`);
}

export default async function globalSetup() {
  if (!existsSync(join(paths.web, "dist", "index.html"))) {
    throw new Error("web/dist is missing: build the console first (cd web && npm run build)");
  }
  mkdirSync(paths.results, { recursive: true });
  const bin = binary();

  // Unique per run: database, Temporal task queues and (in the specs) slugs, since Temporal remembers
  // workflow ids such as tenant-provision-<slug>.
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const adminUrl = process.env.TENANTRY_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const database = `tenantry_e2e_${runId}`;
  execFileSync("psql", [adminUrl, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE ${database}`], {
    stdio: "inherit",
  });
  const base = new URL(adminUrl);
  base.pathname = `/${database}`;
  const databaseUrl = base.toString();

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RUST_BACKTRACE: "1",
    RUST_LOG: process.env.E2E_RUST_LOG ?? "info",
    APP_ENV: "development",
    DATABASE_URL: databaseUrl,
    JWT_SECRET_KEY: randomBytes(32).toString("hex"),
    BIND_ADDR: `127.0.0.1:${port}`,
    // Email links land on the console under test (what `tenantry dev` defaults to once APP_URL is unset).
    APP_URL: url,
    TEMPORAL_HOST: process.env.TEMPORAL_HOST ?? "127.0.0.1:7233",
    TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE ?? "default",
    TEMPORAL_QUEUE_PREFIX: `e2e-${runId}`,
    EMAIL_BACKEND: "mailbox",
    ENABLE_OPENAPI: "true",
    OUTBOX_RELAY_ENABLED: "true",
    // The specs sign in many times from one address within minutes; the per-endpoint budgets (e.g. 5 logins per
    // account and address per 15 min) are for abuse, not for this. Rate limits have their own Rust tests.
    RATE_LIMIT_ENABLED: "false",
    SHUTDOWN_GRACE_PERIOD: "5",
    LOG_FORMAT: "pretty",
  };
  const logFile = join(paths.results, "tenantry-dev.log");
  const log = createWriteStream(logFile);
  console.log(`[e2e] starting ${bin} dev on ${url} (database ${database}, log ${logFile})`);
  // The binary reads .env from its working directory; everything that matters is set explicitly above.
  const child = spawn(bin, ["dev"], { cwd: paths.repo, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${bin}`);

  const state: ServerState = { pid: child.pid, url, database, adminUrl, databaseUrl, runId };
  writeFileSync(paths.state, JSON.stringify(state, null, 2));
  try {
    await waitUntilReady(url, child.pid, logFile, 180_000);
  } catch (e) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    throw e;
  }
  process.env.TENANTRY_E2E_URL = url;
  process.env.TENANTRY_E2E_DATABASE_URL = databaseUrl;
  process.env.E2E_RUN_ID = runId;
  console.log(`[e2e] tenantry dev is ready at ${url}`);
}
