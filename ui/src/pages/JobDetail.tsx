// One job: why it waits (first), progress, payload and result, every error with its
// traceback, the timeline, parents; cancel, retry from the dead letters, copy as curl or SDK.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { get, post } from "../api/client";
import type { Job, JobTimeline } from "../api/types";
import { ErrorBox, Loading, StatusBadge } from "../components/Status";
import { Timeline } from "../components/Timeline";
import { useFeed } from "../feed/FeedProvider";
import { clock } from "../format";
import { asCurl, asSdk } from "./snippets";

const CANCELABLE = new Set(["waiting", "pending", "scheduled", "running"]);

export function JobDetail() {
  const { id = "" } = useParams();
  const path = `/jobs/${encodeURIComponent(id)}`;
  const queryClient = useQueryClient();
  const feed = useFeed();
  const job = useQuery({ queryKey: ["job", id], queryFn: () => get<Job>(path) });
  const timeline = useQuery({ queryKey: ["job", id, "timeline"], queryFn: () => get<JobTimeline>(`${path}/timeline`) });
  const [copied, setCopied] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["job", id] });
  const cancel = useMutation({ mutationFn: () => post<Job>(`${path}/cancel`), onSettled: refresh });
  const retry = useMutation({ mutationFn: () => post<Job>(`/dlq/${encodeURIComponent(id)}/retry`), onSettled: refresh });

  if (job.isPending) return <Loading what="Loading the job" />;
  if (job.isError) return <ErrorBox error={job.error} />;
  const j = job.data;
  const seen = feed.statuses.get(j.id);
  const status = j.status;
  const percent = seen?.percent ?? j.progress;
  const copy = async (what: string, text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(`${what} copied`);
    } catch {
      setCopied(`${what}: select and copy below`);
    }
    setTimeout(() => setCopied(null), 3000);
  };

  return (
    <article className="job">
      <h1>
        Job <code>{j.id}</code> <StatusBadge status={status} />
      </h1>
      {j.blocked_reason && (
        <p className="blocked" role="note">
          Why it is not running: {j.blocked_reason}
        </p>
      )}
      {(status === "running" || percent !== null) && percent !== null && percent !== undefined && (
        <div className="progress" aria-label="progress">
          <progress max={100} value={percent} /> {percent.toFixed(0)}%{j.progress_message ? ` · ${j.progress_message}` : ""}
        </div>
      )}
      <div className="actions">
        {CANCELABLE.has(status) && (
          <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel
          </button>
        )}
        {status === "dead" && (
          <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
            Retry
          </button>
        )}
        <button type="button" onClick={() => copy("curl", asCurl(j, window.location.origin))}>
          Copy as curl
        </button>
        <button type="button" onClick={() => copy("SDK code", asSdk(j, window.location.origin))}>
          Copy as SDK code
        </button>
        {copied && <span className="muted">{copied}</span>}
      </div>
      {cancel.isError && <ErrorBox error={cancel.error} />}
      {retry.isError && <ErrorBox error={retry.error} />}
      <dl className="facts">
        <dt>Task type</dt>
        <dd>{j.task_type}</dd>
        <dt>Queue</dt>
        <dd>{j.queue}</dd>
        <dt>Priority</dt>
        <dd>{j.priority}</dd>
        <dt>Attempt</dt>
        <dd>
          {j.attempt} of {j.max_retries + 1} ({j.failures} failed)
        </dd>
        <dt>Worker</dt>
        <dd>{j.worker ?? "–"}</dd>
        <dt>Created</dt>
        <dd>{clock(j.created_at)}</dd>
        <dt>Started</dt>
        <dd>{clock(j.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{clock(j.finished_at)}</dd>
        {j.due_at && (
          <>
            <dt>Due</dt>
            <dd>{clock(j.due_at)}</dd>
          </>
        )}
        {j.dead_reason && (
          <>
            <dt>Dead because</dt>
            <dd>{j.dead_reason}</dd>
          </>
        )}
        {(j.depends_on ?? []).length > 0 && (
          <>
            <dt>Parents</dt>
            <dd>
              {(j.depends_on ?? []).map((p) => (
                <Link key={p} to={`/jobs/${encodeURIComponent(p)}`}>
                  {p}{" "}
                </Link>
              ))}
            </dd>
          </>
        )}
      </dl>
      <h2>Timeline</h2>
      {timeline.isPending ? <Loading /> : timeline.isError ? <ErrorBox error={timeline.error} /> : <Timeline events={timeline.data.data} now={Date.now()} />}
      {(j.errors ?? []).length > 0 && (
        <>
          <h2>Errors ({(j.errors ?? []).length})</h2>
          <ol className="errors">
            {(j.errors ?? []).map((e, i) => (
              <li key={i} data-attempt={e.attempt}>
                <strong>attempt {e.attempt}</strong> <span className="muted">{clock(e.at)}</span>
                <pre className="error-text">{e.error}</pre>
                {e.traceback && (
                  <details>
                    <summary>traceback</summary>
                    <pre>{e.traceback}</pre>
                  </details>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
      <h2>Payload</h2>
      <pre className="json">{JSON.stringify(j.payload, null, 2)}</pre>
      {j.result !== null && j.result !== undefined && (
        <>
          <h2>Result</h2>
          <pre className="json">{JSON.stringify(j.result, null, 2)}</pre>
        </>
      )}
    </article>
  );
}
