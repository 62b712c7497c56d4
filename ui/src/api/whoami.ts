// Who the session is: a tenant's key, the admin key, or a development API without keys.
import { ApiError, api } from "./client";
import type { QueueStats, Tenant } from "./types";

export type Role = "tenant" | "admin" | "dev";
export interface Identity {
  role: Role;
  tenant: string | null; // null: the admin key (every tenant)
}

/** What `key` (null: none) opens, or ApiError (401 for a wrong key). */
export async function identify(key: string | null): Promise<Identity> {
  try {
    const tenant = await api<Tenant>("GET", "/tenant", { key });
    if (!key) return { role: "dev", tenant: tenant.name };
    return { role: "tenant", tenant: tenant.name };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401 || !key) throw e;
  }
  await api<QueueStats>("GET", "/stats", { key }); // the admin key, or a 401 for a wrong key
  return { role: "admin", tenant: null };
}
