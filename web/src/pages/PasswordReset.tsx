// Forgot password (asks for a link) and reset password (the link's page: `/reset-password?token=…`).

import { useState, type FormEvent } from "react";
import { api, call, hasMailbox } from "../api/client";
import { Link, href, useLocation } from "../router";
import { Alert, Field, PageHeader, Submit, useAction } from "../components/ui";
import { useEffect } from "react";

export function ForgotPasswordPage() {
  const { query } = useLocation();
  const [email, setEmail] = useState(query.get("email") ?? "");
  const [sent, setSent] = useState<string | null>(null);
  const [mailboxAvailable, setMailboxAvailable] = useState(false);
  const { busy, error, fieldErrors, run } = useAction(["email"]);
  useEffect(() => {
    void hasMailbox().then(setMailboxAvailable);
  }, []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await call(api.POST("/api/v1/auth/forgot-password", { body: { email } }));
      setSent(r.message);
    });
  };
  return (
    <section className="narrow">
      <PageHeader title="Forgot your password?" />
      <p className="lead">We email you a link to choose a new one. It is valid for a short time and works once.</p>
      <form onSubmit={submit} noValidate className="card">
        <Alert>{error}</Alert>
        {sent && (
          <Alert kind="success">
            {sent}.{" "}
            {mailboxAvailable && <Link to={href("/mailbox", { to: email.trim() })}>Open the development mailbox</Link>}
          </Alert>
        )}
        <Field label="Email" name="email" type="email" autoComplete="email" value={email}
          onChange={(e) => setEmail(e.target.value)} error={fieldErrors.email} required />
        <Submit busy={busy}>Send reset link</Submit>
      </form>
      <p>
        <Link to="/login">Back to log in</Link>
      </p>
    </section>
  );
}

export function ResetPasswordPage() {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, fieldErrors, run, setError } = useAction(["new_password", "token"]);
  const [mismatch, setMismatch] = useState<string | undefined>();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password !== confirm) {
      setMismatch("The two passwords differ");
      return;
    }
    setMismatch(undefined);
    if (!token) {
      setError("This page needs the link from the password reset email.");
      return;
    }
    void run(async () => {
      const r = await call(api.POST("/api/v1/auth/reset-password", { body: { token, new_password: password } }));
      setDone(r.message);
    });
  };

  if (done) {
    return (
      <section className="narrow">
        <PageHeader title="Password reset" />
        <div className="card">
          <Alert kind="success">{done}</Alert>
          <p>Every session of your account was signed out. Log in with your new password.</p>
          <Link className="button primary" to="/login">
            Log in
          </Link>
        </div>
      </section>
    );
  }
  return (
    <section className="narrow">
      <PageHeader title="Choose a new password" />
      <form onSubmit={submit} noValidate className="card">
        <Alert>{error}</Alert>
        {fieldErrors.token && <Alert>{fieldErrors.token}</Alert>}
        <Field label="New password" name="new_password" type="password" autoComplete="new-password" value={password}
          onChange={(e) => setPassword(e.target.value)} error={fieldErrors.new_password} required />
        <Field label="Repeat the new password" name="confirm" type="password" autoComplete="new-password" value={confirm}
          onChange={(e) => setConfirm(e.target.value)} error={mismatch} required />
        <Submit busy={busy}>Set new password</Submit>
      </form>
      <p>
        Link expired? <Link to="/forgot-password">Ask for a new one</Link>
      </p>
    </section>
  );
}
