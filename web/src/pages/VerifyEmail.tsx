// The verification link of the email (`/verify-email?token=…`): verifies once on arrival; offers a new link when
// the token is no longer valid.

import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, call } from "../api/client";
import type { Schemas } from "../api/types";
import { Link, href, useLocation } from "../router";
import { Alert, Field, PageHeader, Submit, useAction } from "../components/ui";

export function VerifyEmailPage() {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [result, setResult] = useState<Schemas["VerifyEmailResponse"] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const started = useRef<string | null>(null);

  useEffect(() => {
    // The token is single-use: send it exactly once per token.
    if (!token || started.current === token) return;
    started.current = token;
    call(api.POST("/api/v1/auth/verify-email", { body: { token } }))
      .then(setResult)
      .catch((e: { detail?: string }) => setFailure(e.detail ?? "Verification failed"));
  }, [token]);

  return (
    <section className="narrow">
      <PageHeader title="Verify your email" />
      <div className="card">
        {!token && <Alert>This page needs the link from the verification email.</Alert>}
        {token && !result && !failure && <p aria-busy="true">Verifying…</p>}
        {result && (
          <>
            <Alert kind="success">{result.message}</Alert>
            <p>
              <strong>{result.user.email}</strong> is verified. You can now log in.
            </p>
            <Link className="button primary" to={href("/login", { email: result.user.email })}>
              Log in
            </Link>
          </>
        )}
        {failure && <Alert>{failure}</Alert>}
      </div>
      {(failure || !token) && <ResendVerification />}
    </section>
  );
}

function ResendVerification() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const { busy, error, fieldErrors, run } = useAction(["email"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await call(api.POST("/api/v1/auth/resend-verification", { body: { email } }));
      setSent(r.message);
    });
  };
  return (
    <form onSubmit={submit} noValidate className="card">
      <h2>Send a new verification link</h2>
      <Alert>{error}</Alert>
      {sent && <Alert kind="success">{sent}</Alert>}
      <Field label="Email" name="email" type="email" autoComplete="email" value={email}
        onChange={(e) => setEmail(e.target.value)} error={fieldErrors.email} required />
      <Submit busy={busy}>Send link</Submit>
    </form>
  );
}
