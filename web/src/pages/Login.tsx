// Log in to one tenant (slug, email, password). Also the target of the tenant switcher: tokens are bound to one
// tenant, so switching means logging in to the other one (the previous session is then logged out).

import { useState, type FormEvent } from "react";
import { login } from "../api/client";
import { Link, href, navigate, useLocation } from "../router";
import { store } from "../session";
import { Field, PageHeader, Submit, useAction, Alert } from "../components/ui";

const FIELDS = ["tenant_slug", "email", "password"] as const;

/** A `next` target inside the console only. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/projects";
}

export function LoginPage() {
  const { query } = useLocation();
  const { session: current, last } = store.get();
  const switching = query.get("switch") === "1" && current?.kind === "tenant";
  const [form, setForm] = useState({
    tenant_slug:
      query.get("tenant") ?? (current && current.kind !== "admin" ? current.tenantSlug : (last?.tenantSlug ?? "")),
    email: query.get("email") ?? (current?.kind === "tenant" ? current.email : (last?.email ?? "")),
    password: "",
  });
  const { busy, error, fieldErrors, run } = useAction(FIELDS);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(
      async () => {
        await login(form.tenant_slug.trim(), form.email.trim(), form.password);
        navigate(safeNext(query.get("next")), { replace: true });
      },
      (err) => {
        // Problems with the tenant belong to the slug field; "Invalid credentials" stays general on purpose.
        if ([400, 403, 404, 410, 503].includes(err.status)) return { tenant_slug: err.detail };
        const header = err.field("X-Tenant-Slug");
        return header ? { tenant_slug: header } : null;
      },
    );
  };

  return (
    <section className="narrow">
      <PageHeader title={switching ? `Switch to ${form.tenant_slug}` : "Log in"} />
      {switching && (
        <p className="lead">Each organisation has its own session: enter your password to open this one.</p>
      )}
      <form onSubmit={submit} noValidate className="card">
        <Alert>{error}</Alert>
        <Field label="Organisation slug" name="tenant_slug" value={form.tenant_slug} autoCapitalize="none"
          spellCheck={false} autoComplete="organization"
          onChange={(e) => setForm({ ...form, tenant_slug: e.target.value })} error={fieldErrors.tenant_slug} required />
        <Field label="Email" name="email" type="email" autoComplete="username" value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })} error={fieldErrors.email} required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })} error={fieldErrors.password} required />
        <Submit busy={busy}>Log in</Submit>
      </form>
      <p>
        <Link to={href("/forgot-password", { email: form.email })}>Forgot your password?</Link> ·{" "}
        <Link to="/signup">Create an organisation</Link> · <Link to="/admin/login">Superuser console</Link>
      </p>
    </section>
  );
}
