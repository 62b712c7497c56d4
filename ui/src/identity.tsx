// The signed-in identity for the whole dashboard.
import { createContext, useContext } from "react";
import type { Identity } from "./api/whoami";

export const IdentityContext = createContext<Identity>({ role: "dev", tenant: "default" });

export function useIdentity(): Identity {
  return useContext(IdentityContext);
}

/** Queue-wide views (stats, queues, workers, tenants) need the admin key or a dev API. */
export function seesEverything(identity: Identity): boolean {
  return identity.role !== "tenant";
}

/** Job views are a tenant's own (the admin key has no tenant). */
export function hasJobs(identity: Identity): boolean {
  return identity.role !== "admin";
}
