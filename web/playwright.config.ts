// End-to-end tests of the console against a real `tenantry dev` process (started by e2e/global-setup.ts with a
// fresh database), driven through Playwright (playwright-core) in the system's Chromium: no browser download.
//
//   npm run e2e                       # needs web/dist (npm run build), PostgreSQL, and Temporal on TEMPORAL_HOST
//   UPDATE_SCREENSHOTS=1 npm run e2e  # also refreshes docs/screenshots/
//
// scripts/test runs this after the Rust tests (SKIP_E2E=1 skips it).
import { defineConfig } from "@playwright/test";

const chromium = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/artifacts",
  globalSetup: "./e2e/global-setup.ts",
  globalTeardown: "./e2e/global-teardown.ts",
  // One server for the run; the specs use their own tenants and users, so they could run in parallel, but a
  // single worker keeps the server's load (Argon2 hashing, provisioning workflows) and the timings predictable.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["html", { outputFolder: "test-results/report", open: "never" }]],
  use: {
    browserName: "chromium",
    launchOptions: { executablePath: chromium },
    viewport: { width: 1280, height: 800 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
  },
});
