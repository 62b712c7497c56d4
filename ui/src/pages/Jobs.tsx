// Jobs: filter by status, queue, task type, priority and time; find by id or idempotency key;
// cursor paging; rows change live with the feed.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { ApiError, get } from "../api/client";
import { PRIORITIES, STATUSES, type Job, type JobList, type QueueStats } from "../api/types";
import { ErrorBox, Loading, StatusBadge } from "../components/Status";
import { useFeed } from "../feed/FeedProvider";
import { ago, count } from "../format";
import { seesEverything, useIdentity } from "../identity";
import { FILTER_KEYS, apiQuery, filtersFrom, filtersTo, isJobId, type JobFilters } from "./jobFilters";

const LIMITS = [50, 100, 200, 500];

export function Jobs() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const cursor = params.get("cursor") ?? "";
  const limit = Number(params.get("limit") ?? 50);
  const feed = useFeed();
  const identity = useIdentity();

  const jobs = useQuery({
    queryKey: ["jobs", filtersTo(filters).toString(), cursor, limit],
    queryFn: () => get<JobList>("/jobs", { ...apiQuery(filters), cursor, limit }),
    placeholderData: keepPreviousData,
  });
  const stats = useQuery({
    queryKey: ["stats"],
    queryFn: () => get<QueueStats>("/stats"),
    enabled: seesEverything(identity),
  });

  const go = (next: URLSearchParams) => setParams(next);
  const page = (nextCursor: string | null) => {
    const p = new URLSearchParams(params);
    if (nextCursor) p.set("cursor", nextCursor);
    else p.delete("cursor");
    go(p);
  };

  return (
    <>
      <h1>Jobs</h1>
      {stats.data && (
        <p className="counts" aria-label="counts by status">
          {STATUSES.map((s) => (
            <Link key={s} to={`/jobs?status=${s}`} data-count={s}>
              <StatusBadge status={s} /> <span className="n">{count(stats.data.jobs_by_status[s] ?? 0)}</span>
            </Link>
          ))}
        </p>
      )}
      <FilterForm key={params.toString()} filters={filters} limit={limit} onApply={(f, l) => go(withLimit(filtersTo(f), l))} />
      {jobs.isPending ? (
        <Loading what="Loading jobs" />
      ) : jobs.isError ? (
        <ErrorBox error={jobs.error} />
      ) : (
        <>
          <JobTable jobs={jobs.data.data} live={feed.statuses} />
          <div className="pager">
            <button type="button" disabled={!cursor} onClick={() => page(null)}>
              ← Newest
            </button>
            <span className="muted">
              {jobs.data.count} shown{jobs.isFetching ? " · updating…" : ""}
            </span>
            <button type="button" disabled={!jobs.data.next_cursor} onClick={() => page(jobs.data.next_cursor ?? null)}>
              Older →
            </button>
          </div>
        </>
      )}
    </>
  );
}

function withLimit(p: URLSearchParams, limit: number): URLSearchParams {
  if (limit !== 50) p.set("limit", String(limit));
  return p;
}

function FilterForm({ filters, limit, onApply }: { filters: JobFilters; limit: number; onApply: (f: JobFilters, limit: number) => void }) {
  const [draft, setDraft] = useState(filters);
  const [size, setSize] = useState(limit);
  const [finding, setFinding] = useState<string | null>(null);
  const navigate = useNavigate();
  const set = (k: keyof JobFilters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const find = draft.find.trim();
    if (find && isJobId(find)) {
      setFinding("Looking up…");
      try {
        await get<Job>(`/jobs/${encodeURIComponent(find)}`);
        navigate(`/jobs/${encodeURIComponent(find)}`);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.status === 410) {
          // removed by retention: its page says so
          navigate(`/jobs/${encodeURIComponent(find)}`);
          return;
        }
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      } finally {
        setFinding(null);
      }
    }
    onApply({ ...draft, find }, size);
  };

  return (
    <form className="filters" onSubmit={submit} aria-label="filters">
      <input aria-label="find" placeholder="job id or idempotency key" value={draft.find} onChange={set("find")} />
      <select aria-label="status" value={draft.status} onChange={set("status")}>
        <option value="">any status</option>
        {STATUSES.map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
      <input aria-label="queue" placeholder="queue" value={draft.queue} onChange={set("queue")} />
      <input aria-label="task type" placeholder="task type" value={draft.task_type} onChange={set("task_type")} />
      <select aria-label="priority" value={draft.priority} onChange={set("priority")}>
        <option value="">any priority</option>
        {PRIORITIES.map((p) => (
          <option key={p}>{p}</option>
        ))}
      </select>
      <label>
        from <input type="datetime-local" value={draft.created_after} onChange={set("created_after")} />
      </label>
      <label>
        to <input type="datetime-local" value={draft.created_before} onChange={set("created_before")} />
      </label>
      <select aria-label="page size" value={size} onChange={(e) => setSize(Number(e.target.value))}>
        {LIMITS.map((l) => (
          <option key={l} value={l}>
            {l} per page
          </option>
        ))}
      </select>
      <button type="submit">Apply</button>
      <button
        type="button"
        onClick={() => {
          const empty = Object.fromEntries(FILTER_KEYS.map((k) => [k, ""])) as unknown as JobFilters;
          setDraft(empty);
          onApply(empty, size);
        }}
      >
        Clear
      </button>
      {finding && <span className="muted">{finding}</span>}
    </form>
  );
}

type Live = Map<string, { status: string; at: number; percent?: number | null }>;

function JobTable({ jobs, live }: { jobs: Job[]; live: Live }) {
  if (jobs.length === 0) return <p className="muted">No jobs match.</p>;
  return (
    <table className="jobs">
      <thead>
        <tr>
          <th>Job</th>
          <th>Task type</th>
          <th>Queue</th>
          <th>Priority</th>
          <th>Status</th>
          <th>Attempt</th>
          <th>Created</th>
          <th>Worker</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => {
          const seen = live.get(j.id);
          const status = seen && seen.at >= lastChange(j) ? seen.status : j.status;
          return (
            <tr key={j.id} data-job={j.id} data-status={status}>
              <td>
                <Link to={`/jobs/${encodeURIComponent(j.id)}`}>{j.id}</Link>
              </td>
              <td>{j.task_type}</td>
              <td>{j.queue}</td>
              <td>{j.priority}</td>
              <td>
                <StatusBadge status={status} />
                {j.blocked_reason && status === "pending" && <span className="muted small"> {j.blocked_reason}</span>}
              </td>
              <td>
                {j.attempt}/{j.max_retries + 1}
              </td>
              <td title={j.created_at}>{ago(j.created_at)}</td>
              <td>{j.worker ?? "–"}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** When the job's state last changed, as far as its fields tell (ms). */
export function lastChange(j: Job): number {
  return Math.max(...[j.created_at, j.started_at, j.finished_at].map((t) => (t ? new Date(t).getTime() : 0)));
}
