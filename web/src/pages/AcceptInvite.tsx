// The invite link's page (`/accept-invite?token=…`): shows the invite, then joins with a new account (full name
// and password) or an existing one (its password).

import { useEffect, useState, type FormEvent } from "react";
import { api, call } from "../api/client";
import type { Schemas } from "../api/types";
import { Link, href, useLocation } from "../router";
import { Alert, Field, PageHeader, Submit, useAction } from "../components/ui";

export function AcceptInvitePage() {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [info, setInfo] = useState<Schemas["InviteInfo"] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [fullName, setFullName] = useState("");
  const [password, setPassword] = useState("");
  const [accepted, setAccepted] = useState<Schemas["InviteAccepted"] | null>(null);
  const { busy, error, fieldErrors, run } = useAction(["full_name", "password", "email"]);

  useEffect(() => {
    if (!token) {
      setLoadError("This page needs the link from the invite email.");
      return;
    }
    let live = true;
    call(api.GET("/api/v1/invites/t/{token}", { params: { path: { token } } }))
      .then((i) => live && setInfo(i))
      .catch((e: { detail?: string }) => live && setLoadError(e.detail ?? "Invalid or expired invite"));
    return () => {
      live = false;
    };
  }, [token]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!info) return;
    void run(
      async () => {
        const r = await call(
          api.POST("/api/v1/invites/t/{token}/accept", {
            params: { path: { token } },
            body: { email: info.email, password, ...(info.account_exists ? {} : { full_name: fullName }) },
          }),
        );
        setAccepted(r);
      },
      (err) => (err.status === 401 ? { password: err.detail } : null),
    );
  };

  if (accepted && info) {
    return (
      <section className="narrow">
        <PageHeader title="Welcome aboard" />
        <div className="card">
          <Alert kind="success">{accepted.message}</Alert>
          <p>
            You are now a member of <strong>{info.tenant_name}</strong>.
          </p>
          <Link className="button primary" to={href("/login", { tenant: accepted.tenant_slug, email: info.email })}>
            Log in to {info.tenant_name}
          </Link>
        </div>
      </section>
    );
  }

  return (
    <section className="narrow">
      <PageHeader title="Accept your invite" />
      {loadError && (
        <div className="card">
          <Alert>{loadError}</Alert>
          <p>Ask an admin of the organisation to send you a new invite.</p>
        </div>
      )}
      {!info && !loadError && <p aria-busy="true">Loading the invite…</p>}
      {info && (
        <form onSubmit={submit} noValidate className="card">
          <p>
            You have been invited to join <strong>{info.tenant_name}</strong> (<code>{info.tenant_slug}</code>) as{" "}
            <strong>{info.role}</strong>.
          </p>
          <Alert>{error}</Alert>
          <Field label="Email" name="email" type="email" value={info.email} readOnly error={fieldErrors.email} />
          {info.account_exists ? (
            <>
              <p className="hint">You already have an account: confirm with its password.</p>
              <Field label="Your password" name="password" type="password" autoComplete="current-password"
                value={password} onChange={(e) => setPassword(e.target.value)} error={fieldErrors.password} required />
            </>
          ) : (
            <>
              <p className="hint">Create your account.</p>
              <Field label="Your full name" name="full_name" autoComplete="name" value={fullName}
                onChange={(e) => setFullName(e.target.value)} error={fieldErrors.full_name} required />
              <Field label="Choose a password" name="password" type="password" autoComplete="new-password"
                value={password} onChange={(e) => setPassword(e.target.value)} error={fieldErrors.password}
                hint="8 to 128 characters; it has to be hard to guess." required />
            </>
          )}
          <Submit busy={busy}>{info.account_exists ? "Join" : "Create account and join"}</Submit>
        </form>
      )}
    </section>
  );
}
