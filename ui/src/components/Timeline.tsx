// A job's timeline drawn as a track of states (waits, attempts, backoffs), then listed.
import type { JobEvent } from "../api/types";
import { clock, duration } from "../format";
import { layout, segments } from "./timeline";

export function Timeline({ events, now }: { events: JobEvent[]; now: number }) {
  const segs = segments(events, now);
  const places = layout(segs);
  return (
    <div className="timeline" aria-label="timeline">
      <div className="track">
        {segs.map((s, i) => (
          <div
            key={i}
            className={`seg seg-${s.status}`}
            style={{ left: `${places[i]!.left}%`, width: `${places[i]!.width}%` }}
            title={`${s.status}${s.attempt ? ` · attempt ${s.attempt}` : ""}${s.worker ? ` · ${s.worker}` : ""} · ${duration(s.end - s.start)}`}
          />
        ))}
      </div>
      <ol className="events">
        {segs.map((s, i) => (
          <li key={i} data-status={s.status}>
            <span className={`dot seg-${s.status}`} />
            <strong>{s.status}</strong> <span className="muted">{clock(s.start)}</span>
            {s.attempt ? <span> · attempt {s.attempt}</span> : null}
            {s.worker ? <span> · {s.worker}</span> : null}
            {s.reason ? <span> · {s.reason}</span> : null}
            <span className="muted"> · {s.open ? `${duration(s.end - s.start)} so far` : duration(s.end - s.start)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}
