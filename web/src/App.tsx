// The console's shell: which page a path shows, who may see it, the navigation, the tenant switcher and the
// banner of an assumed identity.

import { useEffect, useState, type ReactNode } from "react";
import { useStore } from "./useStore";
import { api, call, logout, tenantHeader } from "./api/client";
import type { TenantRead } from "./api/types";
import { Link, href, navigate, useLocation } from "./router";
import { store, type Session } from "./session";
import { Alert } from "./components/ui";
import { SignupPage } from "./pages/Signup";
import { VerifyEmailPage } from "./pages/VerifyEmail";
import { LoginPage } from "./pages/Login";
import { ForgotPasswordPage, ResetPasswordPage } from "./pages/PasswordReset";
import { AcceptInvitePage } from "./pages/AcceptInvite";
import { MailboxPage } from "./pages/Mailbox";
import { ProjectsPage } from "./pages/Projects";
import { MembersPage } from "./pages/Members";
import { InvitesPage } from "./pages/Invites";
import { SessionsPage } from "./pages/Sessions";
import { AccountPage } from "./pages/Account";
import { AuditPage } from "./pages/Audit";
import { AdminLoginPage } from "./pages/AdminLogin";
import { AdminTenantsPage } from "./pages/AdminTenants";

type Access = "public" | "tenant" | "tenant-admin" | "superuser";

const routes: Record<string, { page: () => ReactNode; access: Access }> = {
  "/signup": { page: () => <SignupPage />, access: "public" },
  "/verify-email": { page: () => <VerifyEmailPage />, access: "public" },
  "/login": { page: () => <LoginPage />, access: "public" },
  "/forgot-password": { page: () => <ForgotPasswordPage />, access: "public" },
  "/reset-password": { page: () => <ResetPasswordPage />, access: "public" },
  "/accept-invite": { page: () => <AcceptInvitePage />, access: "public" },
  "/mailbox": { page: () => <MailboxPage />, access: "public" },
  "/admin/login": { page: () => <AdminLoginPage />, access: "public" },
  "/projects": { page: () => <ProjectsPage />, access: "tenant" },
  "/members": { page: () => <MembersPage />, access: "tenant" },
  "/invites": { page: () => <InvitesPage />, access: "tenant-admin" },
  "/audit": { page: () => <AuditPage />, access: "tenant-admin" },
  "/sessions": { page: () => <SessionsPage />, access: "tenant" },
  "/account": { page: () => <AccountPage />, access: "tenant" },
  "/admin/tenants": { page: () => <AdminTenantsPage />, access: "superuser" },
};

function homeOf(s: Session | null): string {
  if (!s) return "/login";
  return s.kind === "admin" ? "/admin/tenants" : "/projects";
}

export function App() {
  const { path, query } = useLocation();
  const { session, me, notice } = useStore();
  const route = routes[path];

  // Where a page may not be shown, go where the user belongs.
  let redirect: string | null = null;
  if (path === "/") redirect = homeOf(session);
  else if (route && route.access !== "public") {
    if (!session) redirect = href("/login", { next: path + (query.toString() ? `?${query}` : "") });
    else if (route.access === "superuser" && session.kind === "assumed") redirect = "/projects";
    else if (route.access === "superuser" && session.kind === "tenant" && me && !me.user.is_superuser)
      redirect = "/projects";
    else if (route.access !== "superuser" && session.kind === "admin") redirect = "/admin/tenants";
  }
  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);

  useMe(session);

  // A notice (e.g. why the session ended) stays on the page it is first shown on, and goes on navigation.
  useEffect(() => {
    if (redirect || !notice) return;
    if (notice.at === undefined) store.notify({ ...notice, at: path });
    else if (notice.at !== path) store.notify(null);
  }, [path, notice, redirect]);

  let content: ReactNode;
  if (redirect) content = null;
  else if (!route) content = <NotFound />;
  else if (route.access === "tenant-admin" && me && !me.isAdmin)
    content = <Alert>This page is for the tenant's admins (your role here is member).</Alert>;
  else content = route.page();

  return (
    <div className="app">
      {session?.kind === "assumed" && <AssumedBanner session={session} />}
      <Header session={session} />
      <main className="content">
        {notice && !redirect && (
          <div className={`alert alert-${notice.kind === "error" ? "error" : "info"} notice`} role="alert" data-testid="notice">
            <span>{notice.text}</span>
            <button type="button" className="link" aria-label="Dismiss" onClick={() => store.notify(null)}>
              ×
            </button>
          </div>
        )}
        {content}
      </main>
    </div>
  );
}

/** Loads the signed-in user and whether they are an admin of the session's tenant. */
function useMe(session: Session | null) {
  const me = useStore().me;
  useEffect(() => {
    if (!session || session.kind === "admin" || me) return;
    let live = true;
    (async () => {
      try {
        const user = await call(api.GET("/api/v1/users/me", { params: { header: tenantHeader() } }));
        // The API has no "my role" call: an admin-only list answers 403 to members.
        const probe = await api.GET("/api/v1/invites", { params: { header: tenantHeader(), query: { limit: 1 } } });
        if (live && store.get().session === session) store.setMe({ user, isAdmin: probe.response.ok });
      } catch {
        // a refused token ends the session by itself; anything else shows on the page's own calls
      }
    })();
    return () => {
      live = false;
    };
  }, [session, me]);
}

function Header({ session }: { session: Session | null }) {
  const { path } = useLocation();
  const { me } = useStore();
  const nav = (to: string, label: string) => (
    <Link to={to} className={path === to ? "active" : undefined} aria-current={path === to ? "page" : undefined}>
      {label}
    </Link>
  );
  return (
    <header className="topbar">
      <Link to="/" className="brand">
        <img src="/favicon.svg" alt="" width="22" height="22" />
        Tenantry
      </Link>
      {session && session.kind !== "admin" && (
        <>
          {session.kind === "tenant" ? <TenantSwitcher session={session} /> : <span className="tenant-name">{session.tenantSlug}</span>}
          <nav className="mainnav" aria-label="Main">
            {nav("/projects", "Projects")}
            {nav("/members", "Members")}
            {me?.isAdmin && nav("/invites", "Invites")}
            {me?.isAdmin && nav("/audit", "Audit log")}
            {nav("/sessions", "Sessions")}
            {nav("/account", "Account")}
            {session.kind === "tenant" && me?.user.is_superuser && nav("/admin/tenants", "Superuser")}
          </nav>
        </>
      )}
      {session?.kind === "admin" && (
        <nav className="mainnav" aria-label="Main">
          <span className="badge badge-warn">Superuser console</span>
          {nav("/admin/tenants", "Tenants")}
        </nav>
      )}
      <div className="spacer" />
      {session ? (
        <div className="who">
          <span className="muted email" data-testid="signed-in-as" title={session.kind === "assumed" ? session.userEmail : session.email}>
            {session.kind === "assumed" ? session.userEmail : session.email}
          </span>
          {session.kind !== "assumed" && (
            <button
              type="button"
              className="small"
              onClick={() =>
                void logout().then(() => navigate(session.kind === "admin" ? "/admin/login" : "/login"))
              }
            >
              Log out
            </button>
          )}
        </div>
      ) : (
        <nav className="mainnav" aria-label="Account">
          {path !== "/login" && <Link to="/login">Log in</Link>}
          {path !== "/signup" && <Link to="/signup">Sign up</Link>}
        </nav>
      )}
    </header>
  );
}

/** The tenants the user belongs to (`GET /users/me/tenants`); another one means logging in to it. */
function TenantSwitcher({ session }: { session: Extract<Session, { kind: "tenant" }> }) {
  const [tenants, setTenants] = useState<TenantRead[] | null>(null);
  useEffect(() => {
    let live = true;
    call(api.GET("/api/v1/users/me/tenants", { params: { query: { limit: 100 } } }))
      .then((page) => live && setTenants(page.items))
      .catch(() => live && setTenants(null));
    return () => {
      live = false;
    };
  }, [session.tenantSlug]);
  const others = (tenants ?? []).filter((t) => t.slug !== session.tenantSlug);
  return (
    <label className="switcher">
      <span className="visually-hidden">Tenant</span>
      <select
        aria-label="Switch tenant"
        value={session.tenantSlug}
        onChange={(e) => navigate(href("/login", { tenant: e.target.value, email: session.email, switch: "1" }))}
      >
        <option value={session.tenantSlug}>
          {tenants?.find((t) => t.slug === session.tenantSlug)?.name ?? session.tenantSlug}
        </option>
        {others.map((t) => (
          <option key={t.id} value={t.slug}>
            {t.name} ({t.slug})
          </option>
        ))}
      </select>
    </label>
  );
}

function AssumedBanner({ session }: { session: Extract<Session, { kind: "assumed" }> }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 15_000);
    return () => window.clearInterval(t);
  }, []);
  const minutes = Math.max(0, Math.round((session.expiresAt - now) / 60_000));
  return (
    <div className="assumed-banner" role="status" data-testid="assumed-banner">
      <p>
        <strong>Assumed identity:</strong> you are acting as <strong>{session.userEmail}</strong> in tenant{" "}
        <strong>{session.tenantSlug}</strong>
        {session.reason ? <> (reason: {session.reason})</> : null}. Everything you do is audited as done by you on
        their behalf. Expires in about {minutes} min.
      </p>
      <button
        type="button"
        className="small"
        onClick={() => {
          store.endAssumed({ kind: "info", text: `You stopped acting as ${session.userEmail}.` });
          navigate("/admin/tenants");
        }}
      >
        Stop acting as {session.userEmail}
      </button>
    </div>
  );
}

function NotFound() {
  return (
    <section className="narrow">
      <h1>Page not found</h1>
      <p>
        There is no console page here. <Link to="/">Go to the start page</Link>.
      </p>
    </section>
  );
}
