// The API client: openapi-fetch typed by the generated schema, plus the session's bearer token, a transparent
// refresh with rotation, and one error type for every non-2xx answer (api.md §0.2).

import createClient from "openapi-fetch";
import type { paths } from "./schema";
import type { FieldErrorBody, MailboxMessage, Schemas } from "./types";
import { store, tokenExpiry, type Session, type TenantSession } from "../session";

/** A non-2xx answer, or no answer at all (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldErrorBody[];
  readonly requestId: string | null;

  constructor(status: number, detail: string, errors: FieldErrorBody[] = [], requestId: string | null = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = errors;
    this.requestId = requestId;
  }

  /** The message of one field (422 entries), if any. */
  field(name: string): string | undefined {
    const e = this.errors.find((x) => x.field === name);
    return e?.message;
  }
}

function toApiError(response: Response, body: unknown): ApiError {
  const b = (body && typeof body === "object" ? body : {}) as Partial<Schemas["ErrorBody"]>;
  const detail =
    typeof b.detail === "string" && b.detail
      ? b.detail
      : `${response.status} ${response.statusText || "Error"}`.trim();
  return new ApiError(
    response.status,
    detail,
    Array.isArray(b.errors) ? b.errors : [],
    b.request_id ?? response.headers.get("x-request-id"),
  );
}

export const SESSION_ENDED =
  "Your session has ended: it was signed out (here or elsewhere), revoked, or expired, or its refresh token " +
  "was used twice, which signs the session out everywhere for safety. Please log in again.";

const baseUrl = typeof window === "undefined" ? "" : window.location.origin;

/** Calls that must not carry the session's token or trigger a refresh. */
function isCredentialCall(url: string): boolean {
  const path = new URL(url, baseUrl || "http://localhost").pathname;
  return (
    path === "/api/v1/auth/login" ||
    path === "/api/v1/auth/refresh" ||
    path === "/api/v1/auth/logout" ||
    path === "/api/v1/auth/register" ||
    path === "/api/v1/admin/login"
  );
}

// The raw client, for logins and the refresh call itself.
const plain = createClient<paths>({ baseUrl });

let refreshing: Promise<boolean> | null = null;

/** Rotates the tenant session's refresh token (one refresh at a time for the whole tab). */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const s = store.get().session;
    if (s?.kind !== "tenant") return false;
    try {
      const { data, response } = await plain.POST("/api/v1/auth/refresh", {
        params: { header: { "X-Tenant-Slug": s.tenantSlug } },
        body: { refresh_token: s.refreshToken },
      });
      if (data) {
        // The session may have ended meanwhile (logout in this tab): then keep it ended.
        if (store.get().session === s) {
          store.update({ ...s, accessToken: data.access_token, refreshToken: data.refresh_token });
        }
        return true;
      }
      if (response.status === 401 && store.get().session === s) {
        store.end({ kind: "error", text: SESSION_ENDED });
      }
      return false;
    } catch {
      return false; // network trouble: keep the session, the call fails with its own error
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A usable access token for the session: refreshed first when missing or about to expire. */
async function accessTokenFor(s: Session): Promise<string | null> {
  if (s.kind !== "tenant") return s.accessToken;
  const exp = s.accessToken ? tokenExpiry(s.accessToken) : null;
  if (!s.accessToken || (exp !== null && exp - Date.now() < 20_000)) {
    await refreshSession();
    const now = store.get().session;
    return now?.kind === "tenant" ? now.accessToken : null;
  }
  return s.accessToken;
}

function withAuth(request: Request, token: string | null, session: Session): Request {
  const headers = new Headers(request.headers);
  if (token && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  // Tenant-scoped calls name their tenant explicitly; the others ignore the header (api.md §0.1).
  const tenant = session.kind === "admin" ? null : session.tenantSlug;
  if (tenant && !headers.has("x-tenant-slug")) headers.set("x-tenant-slug", tenant);
  return new Request(request, { headers });
}

/** What happens when the bearer token is refused and cannot be renewed. */
function tokenRefused(s: Session, detail: string) {
  if (store.get().session !== s) return;
  if (s.kind === "assumed") {
    store.endAssumed({
      kind: "error",
      text: `The assumed identity of ${s.userEmail} has ended (${detail}). You are back in your own session.`,
    });
  } else if (s.kind === "admin") {
    store.end({ kind: "error", text: `Your superuser session has ended (${detail}). Please log in again.` });
  } else {
    store.end({ kind: "error", text: SESSION_ENDED });
  }
}

async function authFetch(request: Request): Promise<Response> {
  const session = store.get().session;
  if (!session || isCredentialCall(request.url)) return fetch(request);
  const retry = request.clone();
  const token = await accessTokenFor(session);
  if (!token && store.get().session !== session) {
    // The refresh just failed and ended the session; don't send the call without credentials.
    return new Response(JSON.stringify({ detail: SESSION_ENDED }), { status: 401 });
  }
  const response = await fetch(withAuth(request, token, session));
  if (response.status !== 401) return response;

  // A refused token: a tenant session refreshes once and retries (the 401 was decided before the handler ran,
  // so repeating the call is safe); a refresh that fails ends the session with a message.
  const detail = await response
    .clone()
    .json()
    .then((b: { detail?: string }) => b.detail ?? "token refused")
    .catch(() => "token refused");
  if (session.kind === "tenant") {
    const current = store.get().session;
    const renewed =
      current?.kind === "tenant" && current.accessToken !== token ? true : await refreshSession();
    const now = store.get().session;
    if (renewed && now?.kind === "tenant") return fetch(withAuth(retry, now.accessToken, now));
    if (store.get().session === session) store.end({ kind: "error", text: SESSION_ENDED });
    return response;
  }
  tokenRefused(session, detail);
  return response;
}

/** The typed client every page uses. */
export const api = createClient<paths>({ baseUrl, fetch: authFetch });

type Result<T> = { data?: T; error?: unknown; response: Response };

/** Unwraps an openapi-fetch result: the data, or an ApiError. Network failures become status 0. */
export async function call<T>(pending: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await pending;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
  if (!result.response.ok) throw toApiError(result.response, result.error);
  return result.data as T;
}

/** The `X-Tenant-Slug` of the current session (tenant-scoped endpoints require it). */
export function tenantHeader(): { "X-Tenant-Slug": string } {
  const s = store.get().session;
  const slug = s && s.kind !== "admin" ? s.tenantSlug : "";
  return { "X-Tenant-Slug": slug };
}

/** Logs in to a tenant: a new session (the previous one, if any, is logged out). */
export async function login(tenantSlug: string, email: string, password: string): Promise<void> {
  const previous = store.get().session;
  const pair = await call(
    plain.POST("/api/v1/auth/login", {
      params: { header: { "X-Tenant-Slug": tenantSlug } },
      body: { email, password },
    }),
  );
  store.begin({
    kind: "tenant",
    tenantSlug,
    email,
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
  });
  if (previous?.kind === "tenant") void logoutFamily(previous);
}

async function logoutFamily(s: TenantSession) {
  try {
    await plain.POST("/api/v1/auth/logout", {
      params: { header: { "X-Tenant-Slug": s.tenantSlug } },
      body: { refresh_token: s.refreshToken },
    });
  } catch {
    // best effort: the family expires on its own
  }
}

/** Logs out of the current session (the tenant session's family is revoked server-side). */
export async function logout(): Promise<void> {
  const s = store.get().session;
  if (s?.kind === "assumed") {
    store.endAssumed({ kind: "info", text: "You left the assumed identity." });
    return;
  }
  store.end({ kind: "info", text: "You have been logged out." });
  if (s?.kind === "tenant") await logoutFamily(s);
  else if (s?.kind === "admin") {
    // The superuser session cannot be refreshed; revoke it so the token stops working at once.
    const sid = sessionIdOf(s.accessToken);
    if (sid) {
      await fetch(`${baseUrl}/api/v1/users/me/sessions/${sid}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${s.accessToken}` },
      }).catch(() => undefined);
    }
  }
}

function sessionIdOf(token: string): string | null {
  try {
    const part = token.split(".")[1] ?? "";
    const sid = (JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as { sid?: unknown }).sid;
    return typeof sid === "string" ? sid : null;
  } catch {
    return null;
  }
}

/** Superuser console login (`POST /admin/login`): a tenantless access token, no refresh token. */
export async function adminLogin(email: string, password: string): Promise<void> {
  const t = await call(plain.POST("/api/v1/admin/login", { body: { email, password } }));
  store.begin({ kind: "admin", email, accessToken: t.access_token, expiresAt: Date.now() + t.expires_in * 1000 });
}

/** Development mailbox (`GET /dev/mailbox`): 404 outside development and test. */
export async function mailbox(to: string, limit = 50): Promise<MailboxMessage[]> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/dev/mailbox?${new URLSearchParams({ to, limit: String(limit) })}`);
  } catch {
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(response, body);
  return (body as { items: MailboxMessage[] }).items;
}

let mailboxProbe: Promise<boolean> | null = null;

/** Whether this server has the development mailbox (it answers 422 to a request without `to`). */
export function hasMailbox(): Promise<boolean> {
  mailboxProbe ??= fetch(`${baseUrl}/dev/mailbox`)
    .then((r) => r.status !== 404)
    .catch(() => false);
  return mailboxProbe;
}

/** A fresh `Idempotency-Key` for one create request (retries of the same submission reuse it). */
export function idempotencyKey(): string {
  // crypto.randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
