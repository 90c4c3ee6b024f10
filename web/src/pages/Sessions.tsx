// The user's sessions in every tenant (GET /users/me/sessions): revoke one, or log out everywhere.

import { api, call } from "../api/client";
import type { SessionRead } from "../api/types";
import { navigate } from "../router";
import { store } from "../session";
import { useStore } from "../useStore";
import { Alert, Badge, ConfirmButton, PageHeader, Pager, Time, useAction, useCursorPages, useLoad } from "../components/ui";

/** A short, readable form of a user agent string. */
function describeAgent(ua: string | null | undefined): string {
  if (!ua) return "unknown client";
  const browser = /(Firefox|Edg|Chrome|Chromium|Safari|curl|HeadlessChrome)\/[\d.]+/.exec(ua)?.[0] ?? ua.slice(0, 40);
  const os = /(Windows|Mac OS X|Linux|Android|iPhone OS)/.exec(ua)?.[0];
  return os ? `${browser} on ${os}` : browser;
}

export function SessionsPage() {
  const { session } = useStore();
  const pages = useCursorPages();
  const list = useLoad(
    () =>
      call(
        api.GET("/api/v1/users/me/sessions", {
          params: { query: { limit: 25, ...(pages.cursor ? { cursor: pages.cursor } : {}) } },
        }),
      ),
    [pages.cursor],
  );
  const everywhere = useAction();

  const logoutAll = () =>
    void everywhere.run(async () => {
      await call(api.POST("/api/v1/auth/logout-all"));
      store.end({ kind: "info", text: "You were logged out everywhere: every session of your account has ended." });
      navigate("/login");
    });

  if (session?.kind === "assumed") {
    return (
      <section>
        <PageHeader title="Sessions" />
        <Alert kind="info">Sessions cannot be viewed or changed while using an assumed identity.</Alert>
      </section>
    );
  }

  return (
    <section>
      <PageHeader title="Sessions">
        <ConfirmButton label="Log out everywhere" confirmLabel="Yes, end every session" busy={everywhere.busy}
          onConfirm={logoutAll} />
      </PageHeader>
      <p className="lead">Where your account is signed in, in every organisation. Revoking a session signs it out at once.</p>
      <Alert>{everywhere.error}</Alert>
      <Alert>{list.error}</Alert>
      {list.data && (
        <table className="table" aria-label="Sessions">
          <thead>
            <tr>
              <th>Organisation</th>
              <th>Client</th>
              <th>Address</th>
              <th>Signed in</th>
              <th>Last used</th>
              <th>Expires</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((s) => (
              <SessionRow key={s.id} s={s} onRevoked={() => list.reload()} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager label="Sessions" page={pages.page} hasMore={list.data.has_more}
          onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)} onPrevious={pages.previous} />
      )}
    </section>
  );
}

function SessionRow({ s, onRevoked }: { s: SessionRead; onRevoked: () => void }) {
  const action = useAction();
  const revoke = () =>
    void action.run(async () => {
      await call(api.DELETE("/api/v1/users/me/sessions/{session_id}", { params: { path: { session_id: s.id } } }));
      if (s.current) {
        store.end({ kind: "info", text: "You revoked this session and are now logged out." });
        navigate("/login");
        return;
      }
      onRevoked();
    });
  return (
    <tr data-testid="session-row" data-current={s.current ? "true" : "false"}>
      <td className="strong">
        {s.tenant_slug ?? <span className="muted">superuser console</span>} {s.current && <Badge tone="good">this session</Badge>}
      </td>
      <td title={s.user_agent ?? undefined}>{describeAgent(s.user_agent)}</td>
      <td>{s.ip_address ?? "—"}</td>
      <td>
        <Time value={s.created_at} />
      </td>
      <td>
        <Time value={s.last_used_at} />
      </td>
      <td>
        <Time value={s.expires_at} />
      </td>
      <td className="row-actions">
        <ConfirmButton label="Revoke" confirmLabel={s.current ? "Revoke and log out" : "Revoke session"}
          busy={action.busy} onConfirm={revoke} />
        {action.error && (
          <div className="field-error" role="alert">
            {action.error}
          </div>
        )}
      </td>
    </tr>
  );
}
