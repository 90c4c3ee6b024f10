// Who the console is acting as, kept in one small store that React reads through useSyncExternalStore.
//
// Tokens: access tokens live in memory only. A tenant session's refresh token (rotated on every refresh) is kept
// in sessionStorage together with the tenant slug, so a reload of this tab resumes the session while other tabs
// (and a closed browser) do not share it: two tabs rotating one refresh token would trip the API's reuse
// detection, which revokes the whole session. Superuser and assumed-identity tokens cannot be refreshed and are
// never stored.

import type { Schemas } from "./api/types";

export type TenantSession = {
  kind: "tenant";
  tenantSlug: string;
  email: string;
  accessToken: string | null;
  refreshToken: string;
};

/** `POST /admin/login`: an access token without a tenant and without a refresh token. */
export type AdminSession = {
  kind: "admin";
  email: string;
  accessToken: string;
  expiresAt: number;
};

/** A superuser acting as another user in one tenant; `operator` is the session to return to. */
export type AssumedSession = {
  kind: "assumed";
  accessToken: string;
  expiresAt: number;
  tenantSlug: string;
  tenantId: string;
  userId: string;
  userEmail: string;
  reason: string | null;
  operator: AdminSession | TenantSession;
};

export type Session = TenantSession | AdminSession | AssumedSession;

/** Facts about the signed-in user in the session's tenant, loaded after sign-in. */
export type Me = {
  user: Schemas["UserRead"];
  isAdmin: boolean;
};

/** A message for the next page; `at` is the path it was first shown on (set by the shell). */
export type Notice = { kind: "info" | "error"; text: string; at?: string };

type State = {
  session: Session | null;
  me: Me | null;
  /** A message for the next page (e.g. why the user was logged out). */
  notice: Notice | null;
  /** Tenant and email of the last tenant session, to prefill the next log-in. */
  last: { tenantSlug: string; email: string } | null;
};

const STORAGE_KEY = "tenantry.session";

function restore(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<TenantSession>;
    if (typeof v.tenantSlug === "string" && typeof v.refreshToken === "string" && typeof v.email === "string") {
      return { kind: "tenant", tenantSlug: v.tenantSlug, email: v.email, refreshToken: v.refreshToken, accessToken: null };
    }
  } catch {
    // unreadable storage: start signed out
  }
  return null;
}

function persist(session: Session | null) {
  try {
    if (session?.kind === "tenant") {
      const { tenantSlug, email, refreshToken } = session;
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ tenantSlug, email, refreshToken }));
    } else if (session === null) {
      sessionStorage.removeItem(STORAGE_KEY);
    }
    // admin/assumed sessions are memory-only; an operator's stored tenant session stays as it was
  } catch {
    // storage unavailable (private mode): the session simply does not survive a reload
  }
}

let state: State = { session: restore(), me: null, notice: null, last: null };
const listeners = new Set<() => void>();

function set(next: Partial<State>) {
  state = { ...state, ...next };
  for (const l of listeners) l();
}

export const store = {
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  get: () => state,

  /** Starts a session (after a login or an identity assumption). */
  begin(session: Session) {
    persist(session);
    set({ session, me: null, notice: null });
  },
  /** Replaces the tokens of the current session (after a refresh). */
  update(session: Session) {
    persist(session);
    set({ session });
  },
  setMe(me: Me | null) {
    set({ me });
  },
  /** Ends the session; `notice` is shown on the page the user lands on. */
  end(notice: Notice | null = null) {
    const s = state.session;
    const last = s?.kind === "tenant" ? { tenantSlug: s.tenantSlug, email: s.email } : state.last;
    persist(null);
    set({ session: null, me: null, notice, last });
  },
  /** Leaves an assumed identity and returns to the operator's own session. */
  endAssumed(notice: Notice | null = null) {
    const s = state.session;
    if (s?.kind !== "assumed") return;
    persist(s.operator);
    set({ session: s.operator, me: null, notice });
  },
  notify(notice: Notice | null) {
    set({ notice });
  },
};

/** The tenant the current session works in, if any. */
export function sessionTenant(s: Session | null): string | null {
  if (!s) return null;
  return s.kind === "admin" ? null : s.tenantSlug;
}

/** The `exp` claim of a JWT, in milliseconds (the console only reads it to refresh in time). */
export function tokenExpiry(token: string): number | null {
  try {
    const part = token.split(".")[1];
    if (!part) return null;
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}
