// The user's account: full name, and changing the password (which signs out the user's other sessions).

import { useEffect, useState, type FormEvent } from "react";
import { api, call, tenantHeader } from "../api/client";
import { store } from "../session";
import { useStore } from "../useStore";
import { Alert, Field, PageHeader, Submit, useAction } from "../components/ui";

export function AccountPage() {
  const { me, session } = useStore();
  return (
    <section className="narrow">
      <PageHeader title="Your account" />
      {me && (
        <p className="lead">
          {me.user.email} · {me.isAdmin ? "admin" : "member"} of <code>{session && session.kind !== "admin" ? session.tenantSlug : ""}</code>
          {me.user.is_superuser ? " · superuser" : ""}
        </p>
      )}
      <Profile />
      {session?.kind === "assumed" ? (
        <Alert kind="info">The password cannot be changed while using an assumed identity.</Alert>
      ) : (
        <ChangePassword />
      )}
    </section>
  );
}

function Profile() {
  const { me } = useStore();
  const [fullName, setFullName] = useState(me?.user.full_name ?? "");
  const [saved, setSaved] = useState(false);
  const { busy, error, fieldErrors, run } = useAction(["full_name"]);
  useEffect(() => {
    if (me) setFullName(me.user.full_name);
  }, [me]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    void run(async () => {
      const user = await call(
        api.PATCH("/api/v1/users/me", { params: { header: tenantHeader() }, body: { full_name: fullName } }),
      );
      if (me) store.setMe({ ...me, user });
      setSaved(true);
    });
  };
  return (
    <form onSubmit={submit} noValidate className="card" aria-label="Profile">
      <h2>Profile</h2>
      <Alert>{error}</Alert>
      {saved && <Alert kind="success">Saved.</Alert>}
      <Field label="Full name" name="full_name" autoComplete="name" value={fullName}
        onChange={(e) => setFullName(e.target.value)} error={fieldErrors.full_name} required />
      <Submit busy={busy}>Save</Submit>
    </form>
  );
}

function ChangePassword() {
  const [form, setForm] = useState({ current_password: "", new_password: "", confirm: "" });
  const [done, setDone] = useState<string | null>(null);
  const [mismatch, setMismatch] = useState<string | undefined>();
  const { busy, error, fieldErrors, run } = useAction(["current_password", "new_password"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    if (form.new_password !== form.confirm) {
      setMismatch("The two passwords differ");
      return;
    }
    setMismatch(undefined);
    void run(
      async () => {
        const r = await call(
          api.POST("/api/v1/users/me/password", {
            body: { current_password: form.current_password, new_password: form.new_password },
          }),
        );
        setForm({ current_password: "", new_password: "", confirm: "" });
        const others = r.revoked_sessions === 1 ? "1 other session was" : `${r.revoked_sessions} other sessions were`;
        setDone(`${r.message}. ${others} signed out.`);
      },
      (err) => (err.status === 400 ? { current_password: err.detail } : null),
    );
  };
  return (
    <form onSubmit={submit} noValidate className="card" aria-label="Change password">
      <h2>Change password</h2>
      <Alert>{error}</Alert>
      {done && <Alert kind="success">{done}</Alert>}
      <Field label="Current password" name="current_password" type="password" autoComplete="current-password"
        value={form.current_password} onChange={(e) => setForm({ ...form, current_password: e.target.value })}
        error={fieldErrors.current_password} required />
      <Field label="New password" name="new_password" type="password" autoComplete="new-password"
        value={form.new_password} onChange={(e) => setForm({ ...form, new_password: e.target.value })}
        error={fieldErrors.new_password} required />
      <Field label="Repeat the new password" name="confirm" type="password" autoComplete="new-password"
        value={form.confirm} onChange={(e) => setForm({ ...form, confirm: e.target.value })} error={mismatch} required />
      <Submit busy={busy}>Change password</Submit>
    </form>
  );
}
