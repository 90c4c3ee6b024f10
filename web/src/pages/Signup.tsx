// Sign-up: registers a user and their tenant, then follows the tenant's provisioning live
// (GET /tenants/{slug}/provisioning: pending → provisioning → ready, or the failure text).

import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, call, hasMailbox, idempotencyKey } from "../api/client";
import type { Schemas } from "../api/types";
import { Link, href } from "../router";
import { Alert, Field, PageHeader, Submit, useAction } from "../components/ui";

const FIELDS = ["full_name", "email", "password", "tenant_name", "tenant_slug"] as const;

/** A slug suggestion from the organisation's name (the API has the final word on validity). */
export function slugify(name: string): string {
  const s = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 56)
    .replace(/-+$/, "");
  return s;
}

export function SignupPage() {
  const [form, setForm] = useState({ full_name: "", email: "", password: "", tenant_name: "", tenant_slug: "" });
  const [slugEdited, setSlugEdited] = useState(false);
  const [registered, setRegistered] = useState<Schemas["RegisterResponse"] | null>(null);
  const key = useRef<{ body: string; key: string } | null>(null);
  const { busy, error, fieldErrors, run } = useAction(FIELDS);

  const update = (name: keyof typeof form, value: string) =>
    setForm((f) => {
      const next = { ...f, [name]: value };
      if (name === "tenant_name" && !slugEdited) next.tenant_slug = slugify(value);
      return next;
    });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    // A double submit of the same form replays the first answer instead of registering twice.
    const body = JSON.stringify(form);
    if (key.current?.body !== body) key.current = { body, key: idempotencyKey() };
    const idem = key.current.key;
    void run(
      async () => {
        const r = await call(
          api.POST("/api/v1/auth/register", { params: { header: { "Idempotency-Key": idem } }, body: form }),
        );
        setRegistered(r);
      },
      (err) => (err.status === 409 ? { tenant_slug: err.detail } : null),
    );
  };

  if (registered) return <Provisioning registered={registered} />;

  return (
    <section className="narrow">
      <PageHeader title="Create your organisation" />
      <p className="lead">One account, one organisation (tenant) with its own isolated database schema.</p>
      <form onSubmit={submit} noValidate className="card">
        <Alert>{error}</Alert>
        <Field label="Your full name" name="full_name" autoComplete="name" value={form.full_name}
          onChange={(e) => update("full_name", e.target.value)} error={fieldErrors.full_name} required />
        <Field label="Email" name="email" type="email" autoComplete="email" value={form.email}
          onChange={(e) => update("email", e.target.value)} error={fieldErrors.email} required />
        <Field label="Password" name="password" type="password" autoComplete="new-password" value={form.password}
          onChange={(e) => update("password", e.target.value)} error={fieldErrors.password}
          hint="8 to 128 characters; it has to be hard to guess (a few unrelated words work well)." required />
        <Field label="Organisation name" name="tenant_name" autoComplete="organization" value={form.tenant_name}
          onChange={(e) => update("tenant_name", e.target.value)} error={fieldErrors.tenant_name} required />
        <Field label="Organisation slug" name="tenant_slug" value={form.tenant_slug} autoCapitalize="none" spellCheck={false}
          onChange={(e) => {
            setSlugEdited(true);
            update("tenant_slug", e.target.value);
          }}
          error={fieldErrors.tenant_slug}
          hint="Lowercase letters, digits and single - or _ separators; you type it when you log in." required />
        <Submit busy={busy}>Create organisation</Submit>
      </form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </section>
  );
}

const STEPS = [
  { status: "pending", label: "Queued: waiting for the workflow to start" },
  { status: "provisioning", label: "Provisioning: creating and migrating your database schema" },
  { status: "ready", label: "Ready" },
] as const;

function Provisioning({ registered }: { registered: Schemas["RegisterResponse"] }) {
  const slug = registered.tenant_slug;
  const email = registered.user.email;
  const [status, setStatus] = useState<Schemas["ProvisioningStatus"] | null>(null);
  const [pollError, setPollError] = useState<string | null>(null);
  const [mailboxAvailable, setMailboxAvailable] = useState(false);

  useEffect(() => {
    void hasMailbox().then(setMailboxAvailable);
  }, []);

  useEffect(() => {
    let live = true;
    let timer = 0;
    let polls = 0;
    const poll = async () => {
      polls += 1;
      let delay = polls < 20 ? 1000 : 3000;
      const { data, error, response } = await api
        .GET("/api/v1/tenants/{slug}/provisioning", { params: { path: { slug } } })
        .catch(() => ({ data: undefined, error: undefined, response: null }));
      if (!live) return;
      if (data) {
        setStatus(data);
        setPollError(null);
        if (data.status === "ready" || data.status === "failed") return;
      } else if (response?.status === 429) {
        delay = Number(response.headers.get("retry-after") ?? "5") * 1000;
      } else {
        setPollError((error as { detail?: string } | undefined)?.detail ?? "Cannot reach the server; retrying…");
      }
      timer = window.setTimeout(() => void poll(), delay);
    };
    void poll();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [slug]);

  const current = status?.status ?? "pending";
  const reached = STEPS.findIndex((s) => s.status === current);
  return (
    <section className="narrow">
      <PageHeader title="Setting up your organisation" />
      <div className="card">
        <p>
          Account created for <strong>{registered.user.email}</strong>. Organisation <code>{slug}</code>:
        </p>
        <ol className="steps" aria-label="Provisioning progress">
          {STEPS.map((s, i) => (
            <li
              key={s.status}
              className={current === "failed" ? (i <= Math.max(reached, 0) ? "failed" : "") : i < reached || current === "ready" ? "done" : i === reached ? "current" : ""}
            >
              {s.label}
            </li>
          ))}
        </ol>
        <p>
          Status: <strong data-testid="provisioning-status">{current}</strong>
        </p>
        {current === "failed" && (
          <Alert>
            {status?.error ?? "Provisioning failed"}. Nothing was left half-done; please try again with another slug or
            contact support.
          </Alert>
        )}
        {pollError && <Alert kind="info">{pollError}</Alert>}
        {current === "ready" && (
          <Alert kind="success">Your organisation is ready.</Alert>
        )}
        <p>{registered.message}: we sent a verification link to {registered.user.email}. Verify it, then log in.</p>
        <div className="actions">
          {mailboxAvailable && (
            <Link className="button" to={href("/mailbox", { to: email })}>
              Open the development mailbox
            </Link>
          )}
          <Link className="button primary" to={href("/login", { tenant: slug, email })}>
            Go to log in
          </Link>
        </div>
      </div>
    </section>
  );
}
