// The Jobs page's filters live in its URL (each view has its own URL; back/forward work).

export interface JobFilters {
  status: string;
  queue: string;
  task_type: string;
  priority: string;
  created_after: string; // a datetime-local value
  created_before: string;
  find: string; // a job id or an idempotency key
}

export const FILTER_KEYS: (keyof JobFilters)[] = ["status", "queue", "task_type", "priority", "created_after", "created_before", "find"];

export function filtersFrom(params: URLSearchParams): JobFilters {
  const f = {} as JobFilters;
  for (const k of FILTER_KEYS) f[k] = params.get(k) ?? "";
  return f;
}

/** The URL search params of a set of filters (empty ones left out). */
export function filtersTo(filters: JobFilters): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) if (filters[k]) p.set(k, filters[k]);
  return p;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** GET /jobs query parameters for the filters: `find` looks up an idempotency key (a job id
 * is opened directly, see isJobId); times are sent as UTC. */
export function apiQuery(filters: JobFilters): Record<string, string> {
  const q: Record<string, string> = {};
  if (filters.find) {
    q.idempotency_key = filters.find;
    return q;
  }
  for (const k of ["status", "queue", "task_type", "priority"] as const) if (filters[k]) q[k] = filters[k];
  for (const k of ["created_after", "created_before"] as const) {
    if (filters[k]) {
      const d = new Date(filters[k]);
      if (!Number.isNaN(d.getTime())) q[k] = d.toISOString();
    }
  }
  return q;
}

export function isJobId(text: string): boolean {
  return JOB_ID.test(text);
}
