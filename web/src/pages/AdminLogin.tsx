// Superuser console log-in (POST /admin/login): a session without a tenant and without a refresh token.

import { useState, type FormEvent } from "react";
import { adminLogin } from "../api/client";
import { Link, navigate } from "../router";
import { Alert, Field, PageHeader, Submit, useAction } from "../components/ui";

export function AdminLoginPage() {
  const [form, setForm] = useState({ email: "", password: "" });
  const { busy, error, fieldErrors, run } = useAction(["email", "password"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await adminLogin(form.email.trim(), form.password);
      navigate("/admin/tenants", { replace: true });
    });
  };
  return (
    <section className="narrow">
      <PageHeader title="Superuser console" />
      <p className="lead">
        For operators with superuser rights. The session lasts as long as one access token and cannot be extended: log in
        again when it ends.
      </p>
      <form onSubmit={submit} noValidate className="card">
        <Alert>{error}</Alert>
        <Field label="Email" name="email" type="email" autoComplete="username" value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })} error={fieldErrors.email} required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })} error={fieldErrors.password} required />
        <Submit busy={busy}>Log in as superuser</Submit>
      </form>
      <p>
        <Link to="/login">Organisation log-in</Link>
      </p>
    </section>
  );
}
