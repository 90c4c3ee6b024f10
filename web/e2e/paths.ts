import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const paths = {
  web,
  repo: resolve(web, ".."),
  results: join(web, "test-results"),
  screenshots: join(web, "test-results", "screenshots"),
  docsScreenshots: resolve(web, "..", "docs", "screenshots"),
  state: join(web, "test-results", "e2e-server.json"),
};

/** What global-setup leaves for the teardown. */
export type ServerState = {
  pid: number;
  url: string;
  database: string;
  adminUrl: string;
  databaseUrl: string;
  runId: string;
};
