// The one way the dashboard talks HTTP to the API: base URL, the session's key, errors.

/** Where the API is: VITE_API_BASE at build time (another origin, e.g. for Netlify/Vercel),
 * else /api on this origin (the Vite dev server and nginx proxy it to the API). */
export const API_BASE: string = (import.meta.env.VITE_API_BASE as string | undefined) ?? "/api";

/** The live feed's URL: VITE_WS_URL, else /ws beside the API base. */
export function feedUrl(): string {
  const explicit = import.meta.env.VITE_WS_URL as string | undefined;
  if (explicit) return explicit;
  if (/^https?:\/\//.test(API_BASE)) return API_BASE.replace(/^http/, "ws").replace(/\/$/, "") + "/ws";
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws`;
}

/** An answer other than 2xx, with the API's own `detail` message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly code?: string,
  ) {
    super(detail);
  }
}

const KEY = "dtq.apiKey";

/** The session's API key (sessionStorage: gone when the tab closes; never in the URL). */
export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

type Query = Record<string, string | number | boolean | undefined | null>;

/** A request to the API; resolves with the parsed JSON (undefined for 204), throws ApiError. */
export async function api<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; key?: string | null } = {},
): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(options.query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  const key = options.key === undefined ? session.key() : options.key;
  const headers: Record<string, string> = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, "the API cannot be reached");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = (body ?? {}) as { detail?: unknown; code?: string };
    const detail =
      typeof problem.detail === "string"
        ? problem.detail
        : response.status >= 500 || response.status === 0
          ? "the API cannot be reached"
          : `HTTP ${response.status}`;
    throw new ApiError(response.status >= 502 ? 0 : response.status, detail, problem.code);
  }
  return body as T;
}

export const get = <T>(path: string, query?: Query) => api<T>("GET", path, { query });
export const post = <T>(path: string, body?: unknown, query?: Query) =>
  api<T>("POST", path, { body, query });
export const del = <T>(path: string) => api<T>("DELETE", path);
