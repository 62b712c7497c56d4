// Overview: counts by status, charts of the last 15 minutes, queues, workers, tenants.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo } from "react";
import { get, post } from "../api/client";
import { PRIORITIES, STATUSES, type History, type QueueList, type QueueStats, type Tenant, type WorkerList } from "../api/types";
import { Chart, type Series } from "../components/Chart";
import { ErrorBox, Loading, StatusBadge } from "../components/Status";
import { ago, count, duration } from "../format";
import { seesEverything, useIdentity } from "../identity";

export function Overview() {
  const identity = useIdentity();
  if (!seesEverything(identity)) return <TenantOverview />;
  return (
    <>
      <h1>Overview</h1>
      <Counts />
      <Charts />
      <Queues />
      <Workers />
      <TenantsUsage />
    </>
  );
}

function TenantOverview() {
  const tenant = useQuery({ queryKey: ["tenant"], queryFn: () => get<Tenant>("/tenant") });
  if (tenant.isPending) return <Loading />;
  if (tenant.isError) return <ErrorBox error={tenant.error} />;
  const t = tenant.data;
  return (
    <>
      <h1>Tenant {t.name}</h1>
      <dl className="facts">
        <dt>Submission rate</dt>
        <dd>{t.rate_per_s ?? "default"} / s, burst {t.burst ?? "default"}</dd>
        <dt>Max running</dt>
        <dd>{t.max_concurrency ?? "default"}</dd>
        <dt>Weight</dt>
        <dd>{t.weight ?? "default"}</dd>
      </dl>
      <p className="muted">Queue-wide charts, queues and workers need the admin key.</p>
    </>
  );
}

function Counts() {
  const stats = useQuery({ queryKey: ["stats"], queryFn: () => get<QueueStats>("/stats"), refetchInterval: 5000 });
  if (stats.isPending) return <Loading />;
  if (stats.isError) return <ErrorBox error={stats.error} />;
  const s = stats.data;
  return (
    <section className="cards" aria-label="jobs by status">
      {STATUSES.map((st) => (
        <div className="card" key={st} data-count={st}>
          <StatusBadge status={st} />
          <span className="big">{count(s.jobs_by_status[st] ?? 0)}</span>
        </div>
      ))}
      <div className="card">
        <span className="muted">dead letters</span>
        <span className="big">{count(s.dlq_depth)}</span>
      </div>
      <div className="card">
        <span className="muted">live workers</span>
        <span className="big">{count(s.live_workers)}</span>
      </div>
    </section>
  );
}

const COLORS = { blue: "#3b82f6", green: "#16a34a", red: "#dc2626", amber: "#d97706", purple: "#9333ea", gray: "#6b7280" };

function Charts() {
  const history = useQuery({
    queryKey: ["history"],
    queryFn: () => get<History>("/stats/history", { window: 900, step: 5 }),
    refetchInterval: 5000,
  });
  const charts = useMemo(() => {
    const points = history.data?.data ?? [];
    const times = points.map((p) => p.at);
    const col = (f: (p: (typeof points)[number]) => number | null | undefined): (number | null)[] => points.map((p) => f(p) ?? null);
    const rate = (p: (typeof points)[number]) => {
      const done = p.succeeded + p.dead;
      return done > 0 ? (100 * p.failed) / (p.succeeded + p.failed) : 0;
    };
    return {
      times,
      throughput: [
        { label: "enqueued/s", values: col((p) => p.enqueued), color: COLORS.blue },
        { label: "succeeded/s", values: col((p) => p.succeeded), color: COLORS.green },
        { label: "failed/s", values: col((p) => p.failed), color: COLORS.red },
      ] satisfies Series[],
      failures: [{ label: "failed %", values: col(rate), color: COLORS.red }] satisfies Series[],
      depth: PRIORITIES.map((pr, i) => ({
        label: pr,
        values: col((p) => p.pending_by_priority[pr] ?? 0),
        color: [COLORS.red, COLORS.amber, COLORS.blue, COLORS.gray][i]!,
      })) satisfies Series[],
      age: [
        { label: "oldest pending (s)", values: col((p) => (p.oldest_pending_age_ms ?? 0) / 1000), color: COLORS.purple },
        { label: "lag (jobs)", values: col((p) => p.lag), color: COLORS.gray },
      ] satisfies Series[],
      latency: [
        { label: "wait p50", values: col((p) => p.wait_p50_ms), color: COLORS.blue },
        { label: "wait p99", values: col((p) => p.wait_p99_ms), color: COLORS.purple },
        { label: "run p50", values: col((p) => p.run_p50_ms), color: COLORS.green },
        { label: "run p99", values: col((p) => p.run_p99_ms), color: COLORS.amber },
      ] satisfies Series[],
    };
  }, [history.data]);
  if (history.isError) return <ErrorBox error={history.error} />;
  return (
    <section className="charts" aria-label="last 15 minutes">
      <Chart title="Throughput (jobs/s)" times={charts.times} series={charts.throughput} />
      <Chart title="Failure rate" times={charts.times} series={charts.failures} unit="%" />
      <Chart title="Pending by priority" times={charts.times} series={charts.depth} />
      <Chart title="Oldest pending age and lag" times={charts.times} series={charts.age} />
      <Chart title="Latency (ms)" times={charts.times} series={charts.latency} unit=" ms" />
    </section>
  );
}

function Queues() {
  const queryClient = useQueryClient();
  const queues = useQuery({ queryKey: ["queues"], queryFn: () => get<QueueList>("/queues"), refetchInterval: 5000 });
  const toggle = useMutation({
    mutationFn: ({ name, paused }: { name: string; paused: boolean }) => post(`/queues/${encodeURIComponent(name)}/${paused ? "resume" : "pause"}`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["queues"] }),
  });
  return (
    <section>
      <h2>Queues</h2>
      {queues.isPending ? (
        <Loading />
      ) : queues.isError ? (
        <ErrorBox error={queues.error} />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Queue</th>
              {PRIORITIES.map((p) => (
                <th key={p}>{p}</th>
              ))}
              <th>Running</th>
              <th>Oldest waiting</th>
              <th>Workers</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {queues.data.data.map((q) => (
              <tr key={q.name} data-queue={q.name}>
                <td>
                  {q.name} {q.paused && <span className="badge badge-paused">paused</span>}
                </td>
                {PRIORITIES.map((p) => (
                  <td key={p}>{count(q.pending_by_priority[p] ?? 0)}</td>
                ))}
                <td>{count(q.running)}</td>
                <td>{q.oldest_pending_at ? ago(q.oldest_pending_at) : "–"}</td>
                <td title={q.task_types.join(", ")}>{q.workers}</td>
                <td>
                  <button type="button" onClick={() => toggle.mutate({ name: q.name, paused: q.paused })} disabled={toggle.isPending}>
                    {q.paused ? "Resume" : "Pause"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {toggle.isError && <ErrorBox error={toggle.error} />}
    </section>
  );
}

function Workers() {
  const workers = useQuery({ queryKey: ["workers"], queryFn: () => get<WorkerList>("/workers"), refetchInterval: 5000 });
  return (
    <section>
      <h2>Workers</h2>
      {workers.isPending ? (
        <Loading />
      ) : workers.isError ? (
        <ErrorBox error={workers.error} />
      ) : workers.data.count === 0 ? (
        <p className="muted">No worker has heartbeated in the last hour. Start one with `dtq worker`.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Worker</th>
              <th>State</th>
              <th>Queues</th>
              <th>Running / concurrency</th>
              <th>Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {workers.data.data.map((w) => (
              <tr key={w.name}>
                <td title={`${w.host ?? ""} pid ${w.pid ?? "?"}`}>{w.name}</td>
                <td>
                  <span className={`badge ${w.alive ? "badge-succeeded" : "badge-dead"}`}>{w.alive ? "live" : "dead"}</span>
                </td>
                <td>{(w.queues ?? []).join(", ")}</td>
                <td>
                  {w.running ?? 0} / {w.concurrency ?? "?"}
                </td>
                <td>{ago(w.last_heartbeat)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function TenantsUsage() {
  const stats = useQuery({ queryKey: ["stats"], queryFn: () => get<QueueStats>("/stats") });
  const tenants = stats.data?.tenants ?? [];
  if (tenants.length === 0) return null;
  return (
    <section>
      <h2>Tenants with jobs queued or running</h2>
      <table>
        <thead>
          <tr>
            <th>Tenant</th>
            <th>Queued</th>
            <th>Running / cap</th>
          </tr>
        </thead>
        <tbody>
          {tenants.map((t) => (
            <tr key={t.name}>
              <td>{t.name}</td>
              <td>{count(t.queued)}</td>
              <td>
                <meter min={0} max={t.max_concurrency ?? 1} value={t.running} /> {t.running} / {t.max_concurrency ?? "∞"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export { duration };
