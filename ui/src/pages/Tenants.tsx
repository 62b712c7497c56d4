// Tenants (admin key): limits, usage, keys. A new key is shown once; keys can be revoked.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { del, get, post } from "../api/client";
import type { ApiKeyCreated, ApiKeyList, QueueStats, TenantList } from "../api/types";
import { ErrorBox, Loading } from "../components/Status";
import { clock, count } from "../format";

export function Tenants() {
  const queryClient = useQueryClient();
  const tenants = useQuery({ queryKey: ["tenants"], queryFn: () => get<TenantList>("/admin/tenants") });
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => get<ApiKeyList>("/admin/keys") });
  const stats = useQuery({ queryKey: ["stats"], queryFn: () => get<QueueStats>("/stats") });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const createTenant = useMutation({
    mutationFn: (n: string) => post("/admin/tenants", { name: n }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["tenants"] }),
  });
  const createKey = useMutation({
    mutationFn: (tenant: string) => post<ApiKeyCreated>(`/admin/tenants/${encodeURIComponent(tenant)}/keys`),
    onSuccess: (k) => {
      setCreated(k);
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => del(`/admin/keys/${encodeURIComponent(id)}`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["keys"] }),
  });
  const usage = new Map((stats.data?.tenants ?? []).map((t) => [t.name, t]));
  const add = (e: FormEvent) => {
    e.preventDefault();
    createTenant.mutate(name.trim());
  };

  if (tenants.isPending) return <Loading />;
  if (tenants.isError) return <ErrorBox error={tenants.error} />;
  return (
    <>
      <h1>Tenants</h1>
      {created && (
        <div className="confirm" role="alert">
          New key for {created.tenant} (shown once, copy it now): <code data-testid="new-key">{created.key}</code>
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th>Tenant</th>
            <th>Rate / burst</th>
            <th>Max running</th>
            <th>Queued</th>
            <th title="A capped tenant's slots in use; an uncapped tenant's jobs as its workers last reported them (every heartbeat, 5 s by default)">
              Running
            </th>
            <th>Keys</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tenants.data.data.map((t) => {
            const u = usage.get(t.name);
            const own = (keys.data?.data ?? []).filter((k) => k.tenant === t.name);
            return (
              <tr key={t.name} data-tenant={t.name}>
                <td>{t.name}</td>
                <td>
                  {t.rate_per_s ?? "default"}/s, {t.burst ?? "default"}
                </td>
                <td>{t.max_concurrency ?? "default"}</td>
                <td>{count(u?.queued ?? 0)}</td>
                <td>{count(u?.running ?? 0)}</td>
                <td>
                  {own.map((k) => (
                    <span key={k.key_id} className="key" title={`created ${clock(k.created_at)}`}>
                      {k.key_id}{" "}
                      <button type="button" onClick={() => window.confirm(`Revoke key ${k.key_id}?`) && revoke.mutate(k.key_id)}>
                        revoke
                      </button>
                    </span>
                  ))}
                </td>
                <td>
                  <button type="button" onClick={() => createKey.mutate(t.name)}>
                    New key
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <form className="filters" onSubmit={add}>
        <input aria-label="tenant name" placeholder="new tenant name" value={name} onChange={(e) => setName(e.target.value)} required />
        <button type="submit">Create tenant</button>
      </form>
      {[createTenant, createKey, revoke].map((m, i) => (m.isError ? <ErrorBox key={i} error={m.error} /> : null))}
    </>
  );
}
