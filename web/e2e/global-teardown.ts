// Stops the `tenantry dev` of global-setup.ts (SIGTERM, then SIGKILL) and drops its database.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { paths, type ServerState } from "./paths";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown() {
  if (!existsSync(paths.state)) return;
  const state = JSON.parse(readFileSync(paths.state, "utf8")) as ServerState;
  if (alive(state.pid)) {
    process.kill(state.pid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(state.pid)) process.kill(state.pid, "SIGKILL");
  }
  if (process.env.E2E_KEEP_DATABASE === "1") {
    console.log(`[e2e] keeping database ${state.database} (E2E_KEEP_DATABASE=1)`);
  } else {
    execFileSync("psql", [state.adminUrl, "-XAtq", "-c", `DROP DATABASE IF EXISTS ${state.database} WITH (FORCE)`], {
      stdio: "inherit",
    });
  }
  rmSync(paths.state, { force: true });
}
