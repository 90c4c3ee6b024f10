// End-to-end: the console in Chromium against a real `tenantry dev` (see global-setup.ts).
import { PASSWORD, createAccount, expect, mailToken, shot, sql, test, uiLogin, unique } from "./support";

test("sign up, follow provisioning, verify through the mailbox, log in, create a project, invite, accept, see the member", async ({
  page,
  browser,
  baseURL,
}) => {
  const slug = unique("acme");
  const email = `${slug}@example.com`;
  const invitee = `${unique("invitee")}@example.com`;

  // Sign up, with live provisioning progress.
  await page.goto("/signup");
  await page.getByLabel("Your full name").fill("Ada Owner");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Organisation name").fill("Acme Rockets");
  await page.getByLabel("Organisation slug").fill(slug);
  await shot(page, "signup");
  await page.getByRole("button", { name: "Create organisation" }).click();
  const status = page.getByTestId("provisioning-status");
  await expect(status).toHaveText(/pending|provisioning|ready/);
  await expect(status).toHaveText("ready", { timeout: 90_000 });
  await expect(page.getByText("Your organisation is ready.")).toBeVisible();
  await shot(page, "provisioning");

  // The verification email, read in the development mailbox; its link opens the console's own page.
  await page.getByRole("link", { name: "Open the development mailbox" }).click();
  await expect(page.getByRole("heading", { name: "Development mailbox" })).toBeVisible();
  const verifyLink = page.getByRole("link", { name: "Open link: Verify your email address" });
  await expect(verifyLink).toBeVisible();
  await shot(page, "mailbox");
  await verifyLink.click();
  await expect(page).toHaveURL(/\/verify-email\?token=/);
  await expect(page.getByText("Email verified successfully")).toBeVisible();
  await shot(page, "verify-email");

  // Log in (the email comes prefilled from the verification page).
  await page.getByRole("link", { name: "Log in" }).last().click();
  await expect(page.getByLabel("Email")).toHaveValue(email);
  await page.getByLabel("Organisation slug").fill(slug);
  await page.getByLabel("Password").fill(PASSWORD);
  await shot(page, "login");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Projects" })).toBeVisible();

  // Create a project.
  await page.getByLabel("Name").fill("Apollo");
  await page.getByLabel("Description (optional)").fill("Moon landing programme");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByTestId("project-row").filter({ hasText: "Apollo" })).toBeVisible();
  await expect(page.getByText("Project “Apollo” created.")).toBeVisible();
  await shot(page, "projects");

  // Invite someone.
  await page.getByRole("link", { name: "Invites" }).click();
  await page.getByLabel("Email").fill(invitee);
  await page.getByRole("button", { name: "Send invite" }).click();
  await expect(page.getByText(`Invite sent successfully: ${invitee} (member).`)).toBeVisible();
  await expect(page.getByTestId("invite-row").filter({ hasText: invitee })).toContainText("pending");
  await shot(page, "invites");

  // The invitee, in a browser context of their own, accepts through the mailbox link with a new account.
  const other = await browser.newContext({ baseURL });
  const page2 = await other.newPage();
  await page2.goto(`/mailbox?to=${encodeURIComponent(invitee)}`);
  await page2.getByRole("link", { name: /^Open link: You've been invited to join/ }).click();
  await expect(page2).toHaveURL(/\/accept-invite\?token=/);
  await expect(page2.getByText("You have been invited to join")).toBeVisible();
  await page2.getByLabel("Your full name").fill("Grace Invitee");
  await page2.getByLabel("Choose a password").fill(PASSWORD);
  await shot(page2, "accept-invite");
  await page2.getByRole("button", { name: "Create account and join" }).click();
  await expect(page2.getByText("Account created and joined tenant successfully")).toBeVisible();
  await page2.getByRole("link", { name: /^Log in to / }).click();
  await expect(page2.getByLabel("Organisation slug")).toHaveValue(slug);
  await expect(page2.getByLabel("Email")).toHaveValue(invitee);
  await page2.getByLabel("Password").fill(PASSWORD);
  await page2.getByRole("button", { name: "Log in" }).click();
  await expect(page2.getByTestId("project-row").filter({ hasText: "Apollo" })).toBeVisible();
  await other.close();

  // The owner sees the new member.
  await page.getByRole("link", { name: "Members" }).click();
  const row = page.getByTestId("member-row").filter({ hasText: invitee });
  await expect(row).toBeVisible();
  await expect(row.getByLabel(`Role of ${invitee}`)).toHaveValue("member");
  await expect(page.getByTestId("member-row")).toHaveCount(2);
  await shot(page, "members");

  // The last admin cannot demote themself: the API's refusal shows on the row.
  const me = page.getByTestId("member-row").filter({ hasText: email });
  await me.getByLabel(`Role of ${email}`).selectOption("member");
  await expect(me.getByRole("alert")).toHaveText("Cannot remove or demote the last admin");
});

test("a duplicate project name shows the API's message at the name field", async ({ page, request }) => {
  const account = await createAccount(request, "dup");
  await uiLogin(page, account);

  const create = page.getByRole("form", { name: "New project" });
  for (const name of ["Duplicate", "Other"]) {
    await create.getByLabel("Name").fill(name);
    await create.getByRole("button", { name: "Create project" }).click();
    await expect(page.getByTestId("project-row").filter({ hasText: name })).toBeVisible();
  }
  await create.getByLabel("Name").fill("Duplicate");
  await create.getByRole("button", { name: "Create project" }).click();
  await expect(create.locator('[data-field="name"]')).toHaveText("Project with name 'Duplicate' already exists");
  await expect(create.getByLabel("Name")).toHaveAttribute("aria-invalid", "true");
  // 422 from the API lands on its field too.
  await create.getByLabel("Name").fill("   ");
  await create.getByRole("button", { name: "Create project" }).click();
  await expect(create.locator('[data-field="name"]')).toHaveText("Project name cannot be empty or whitespace only");

  // Renaming onto a taken name: the same message, at the row's name field.
  await page.getByRole("button", { name: "Edit Other" }).click();
  const edit = page.getByRole("form", { name: "Edit project Other" });
  await edit.getByLabel("Name").fill("Duplicate");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit.locator('[data-field="name"]')).toHaveText("Project with name 'Duplicate' already exists");
  await shot(page, "project-conflict");

  // A valid rename and a description edit go through; delete asks twice.
  await edit.getByLabel("Name").fill("Renamed");
  await edit.getByLabel("Description").fill("Now with a description");
  await edit.getByRole("button", { name: "Save" }).click();
  const renamed = page.getByTestId("project-row").filter({ hasText: "Renamed" });
  await expect(renamed).toContainText("Now with a description");
  await renamed.getByRole("button", { name: "Delete" }).click();
  await renamed.getByRole("button", { name: "Delete “Renamed”" }).click();
  await expect(page.getByTestId("project-row").filter({ hasText: "Renamed" })).toHaveCount(0);
});

test("a revoked session is logged out on its next action", async ({ browser, request, baseURL }) => {
  const account = await createAccount(request, "revoke");
  const laptop = await browser.newContext({ baseURL });
  const phone = await browser.newContext({ baseURL });
  const a = await laptop.newPage();
  const b = await phone.newPage();
  await uiLogin(a, account);
  await uiLogin(b, account);

  // From the second browser, revoke the first one's session.
  await b.getByRole("link", { name: "Sessions" }).click();
  await expect(b.getByTestId("session-row")).toHaveCount(2);
  await expect(b.locator('[data-testid="session-row"][data-current="true"]')).toContainText("this session");
  await shot(b, "sessions");
  const otherSession = b.locator('[data-testid="session-row"][data-current="false"]');
  await otherSession.getByRole("button", { name: "Revoke" }).click();
  await otherSession.getByRole("button", { name: "Revoke session" }).click();
  await expect(b.getByTestId("session-row")).toHaveCount(1);

  // The first browser still shows its page; its next action is refused, the refresh fails, and it is logged out.
  await a.getByRole("link", { name: "Members" }).click();
  await expect(a).toHaveURL(/\/login/);
  await expect(a.getByTestId("notice")).toContainText("Your session has ended");
  await expect(a.getByRole("heading", { name: "Log in" })).toBeVisible();
  // Prefilled for logging in again.
  await expect(a.getByLabel("Organisation slug")).toHaveValue(account.slug);
  await expect(a.getByLabel("Email")).toHaveValue(account.email);
  await shot(a, "session-ended");

  // The second browser changes the password: no other session is left to sign out.
  await b.getByRole("link", { name: "Account" }).click();
  const form = b.getByRole("form", { name: "Change password" });
  await form.getByLabel("Current password").fill(PASSWORD);
  await form.getByLabel("New password", { exact: true }).fill("Velvet-Compass-Meadow-77");
  await form.getByLabel("Repeat the new password").fill("Velvet-Compass-Meadow-77");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByText("Password changed. 0 other sessions were signed out.")).toBeVisible();
  await shot(b, "account");
  // "Log out everywhere" ends this last session too.
  await b.getByRole("link", { name: "Sessions" }).click();
  await b.getByRole("button", { name: "Log out everywhere" }).click();
  await b.getByRole("button", { name: "Yes, end every session" }).click();
  await expect(b.getByTestId("notice")).toContainText("You were logged out everywhere");
  await laptop.close();
  await phone.close();
});

test("forgot password: the reset link from the mailbox sets a new password", async ({ page, request }) => {
  const account = await createAccount(request, "reset");
  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByLabel("Email").fill(account.email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await expect(page.getByText("If an account exists with this email, a password reset link has been sent")).toBeVisible();
  await mailToken(request, account.email, "password_reset");
  await page.getByRole("link", { name: "Open the development mailbox" }).click();
  await page.getByRole("link", { name: "Open link: Reset your password" }).click();
  await page.getByLabel("New password", { exact: true }).fill("Amber-Glacier-Tunnel-19");
  await page.getByLabel("Repeat the new password").fill("Amber-Glacier-Tunnel-19");
  await shot(page, "reset-password");
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page.getByText("Password has been reset")).toBeVisible();
  await uiLogin(page, { ...account, password: "Amber-Glacier-Tunnel-19" });
});

test("superuser console: tenants, assumed identity with a banner, the tenant's audit log, deletion", async ({
  page,
  request,
}) => {
  const operator = await createAccount(request, "ops");
  const target = await createAccount(request, "target");
  sql(`UPDATE users SET is_superuser = true WHERE email = '${operator.email}'`);

  await page.goto("/admin/login");
  await page.getByLabel("Email").fill(operator.email);
  await page.getByLabel("Password").fill(operator.password);
  await page.getByRole("button", { name: "Log in as superuser" }).click();
  await expect(page.getByRole("heading", { name: "All tenants" })).toBeVisible();
  const row = page.locator(`[data-testid="tenant-row"][data-slug="${target.slug}"]`);
  await expect(row).toContainText("ready");
  await shot(page, "admin-tenants");

  // Assume the target's identity in their tenant: the banner stays visible on every page.
  await row.getByRole("button", { name: "Assume identity…" }).click();
  const form = page.getByRole("form", { name: `Assume an identity in ${target.slug}` });
  await form.getByLabel("User id").fill(target.userId);
  await form.getByLabel("Reason (optional, audited)").fill("E2E support check");
  await form.getByRole("button", { name: "Assume identity" }).click();
  const banner = page.getByTestId("assumed-banner");
  await expect(banner).toContainText(`you are acting as ${target.email}`);
  await expect(page.getByRole("heading", { name: "Projects" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Audit log" })).toBeVisible();
  await shot(page, "assumed-identity");

  // The target is their tenant's admin, so the audit log is open to the operator acting as them.
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(banner).toBeVisible();
  await expect(page.locator('[data-testid="audit-row"][data-action="identity.assumed"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="audit-row"][data-action="user.register"]')).toHaveCount(1);
  await shot(page, "audit");

  // Back to the console, then delete the target's tenant.
  await banner.getByRole("button", { name: `Stop acting as ${target.email}` }).click();
  await expect(banner).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "All tenants" })).toBeVisible();
  await row.getByRole("button", { name: "Delete" }).click();
  await row.getByRole("button", { name: `Delete ${target.slug} and its data` }).click();
  await expect(page.getByText(`Deletion of ${target.slug} started.`)).toBeVisible();
  await expect(row).toContainText(/deleting|deleted/);
});

test("the server answers console paths with the app and API paths with JSON 404s", async ({ request, page }) => {
  const html = await request.get("/projects", { headers: { accept: "text/html" } });
  expect(html.status()).toBe(200);
  expect(html.headers()["content-type"]).toContain("text/html");
  const csp = html.headers()["content-security-policy"] ?? "";
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
  expect(html.headers()["x-frame-options"]).toBe("DENY");
  for (const path of ["/api/v1/nope", "/dev/nope"]) {
    const r = await request.get(path, { headers: { accept: "text/html" } });
    expect(r.status()).toBe(404);
    expect(await r.json()).toMatchObject({ detail: "Not Found" });
  }
  const json = await request.get("/no-such-page", { headers: { accept: "application/json" } });
  expect(json.status()).toBe(404);

  // No CSP violation while the app runs.
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.goto("/no-such-page");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.goto("/signup");
  await expect(page.getByRole("heading", { name: "Create your organisation" })).toBeVisible();
  expect(violations).toEqual([]);
});
