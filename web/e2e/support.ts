// Helpers of the end-to-end specs: unique names, accounts prepared through the API, UI log-in, screenshots.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test as base, expect, type APIRequestContext, type Page } from "@playwright/test";
import { paths } from "./paths";

export const url = process.env.TENANTRY_E2E_URL ?? "";
const runId = process.env.E2E_RUN_ID ?? Date.now().toString(36);

export const test = base.extend({
  baseURL: async ({}, use) => {
    if (!url) throw new Error("TENANTRY_E2E_URL is not set: run through `npm run e2e` (global setup starts the server)");
    await use(url);
  },
});
export { expect };

/** A strong password (zxcvbn score ≥ 3) unrelated to the names used here. */
export const PASSWORD = "Quiet-Harbor-Lantern-42";

let counter = 0;
/** A slug-shaped name unique to this run (Temporal remembers workflow ids built from slugs). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${runId}-${counter}`;
}

export type Account = { email: string; slug: string; tenantName: string; userId: string; password: string };

/** The plaintext token of the newest mailbox message of `kind` for `to`. */
export async function mailToken(request: APIRequestContext, to: string, kind: string): Promise<string> {
  let token: string | null = null;
  await expect
    .poll(
      async () => {
        const r = await request.get(`/dev/mailbox?to=${encodeURIComponent(to)}`);
        const items = ((await r.json()) as { items: { kind: string; token: string | null }[] }).items;
        token = items.find((m) => m.kind === kind)?.token ?? null;
        return token;
      },
      { message: `a ${kind} email for ${to}`, timeout: 20_000 },
    )
    .not.toBeNull();
  return token as unknown as string;
}

/** Registers through the API, waits until the tenant is ready and verifies the email: ready to log in. */
export async function createAccount(request: APIRequestContext, prefix: string): Promise<Account> {
  const slug = unique(prefix);
  const email = `${slug}@example.com`;
  const tenantName = `${prefix[0]?.toUpperCase()}${prefix.slice(1)} Ltd`;
  const r = await request.post("/api/v1/auth/register", {
    data: { email, password: PASSWORD, full_name: `${prefix} owner`, tenant_name: tenantName, tenant_slug: slug },
  });
  expect(r.status(), await r.text()).toBe(202);
  const userId = ((await r.json()) as { user: { id: string } }).user.id;
  await expect
    .poll(
      async () => {
        const p = await request.get(`/api/v1/tenants/${slug}/provisioning`);
        return ((await p.json()) as { status: string }).status;
      },
      { message: `tenant ${slug} ready`, timeout: 90_000, intervals: [500, 1000] },
    )
    .toBe("ready");
  const token = await mailToken(request, email, "verify_email");
  const v = await request.post("/api/v1/auth/verify-email", { data: { token } });
  expect(v.status(), await v.text()).toBe(200);
  return { email, slug, tenantName, userId, password: PASSWORD };
}

/** Runs SQL against the server's database (test set-up only, e.g. granting superuser rights). */
export function sql(statement: string): string {
  const db = process.env.TENANTRY_E2E_DATABASE_URL;
  if (!db) throw new Error("TENANTRY_E2E_DATABASE_URL is not set");
  return execFileSync("psql", [db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", statement], { encoding: "utf8" });
}

export async function uiLogin(page: Page, account: Pick<Account, "slug" | "email" | "password">) {
  await page.goto("/login");
  await page.getByLabel("Organisation slug").fill(account.slug);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Projects" })).toBeVisible();
}

/**
 * A full-page screenshot as a test artefact (web/test-results/screenshots/<name>.png); with UPDATE_SCREENSHOTS=1
 * also copied to docs/screenshots/ for the README.
 */
export async function shot(page: Page, name: string) {
  mkdirSync(paths.screenshots, { recursive: true });
  const file = join(paths.screenshots, `${name}.png`);
  // Wait for fonts and pending layout so the picture is stable.
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: file, fullPage: true, animations: "disabled", caret: "hide" });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(paths.docsScreenshots, { recursive: true });
    copyFileSync(file, join(paths.docsScreenshots, `${name}.png`));
  }
}
