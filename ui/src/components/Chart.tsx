// A time-series chart on uPlot (fast canvas plotting: smooth at one update per second over a
// 15-minute window), sized to its container.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
}

/** `times` in ms since the epoch; the x axis always spans the last `windowS` seconds. */
export function Chart({
  title,
  times,
  series,
  unit = "",
  windowS = 900,
}: {
  title: string;
  times: number[];
  series: Series[];
  unit?: string;
  windowS?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("|");

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: el.clientWidth || 400,
      height: 180,
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (_u: uPlot, v: number | null) => (v === null ? "–" : `${v.toFixed(2)}${unit}`) })),
      ],
      scales: {
        x: { time: true },
        y: { range: (_u: uPlot, _min: number, max: number) => [0, Number.isFinite(max) && max > 0 ? max * 1.1 : 1] },
      },
      axes: [{ stroke: "currentColor" }, { stroke: "currentColor", size: 60 }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])], el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // rebuilt only when the set of series changes; data updates go through setData
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, unit, windowS]);

  useEffect(() => {
    // empty points at both ends of the window keep the x axis on the last `windowS` seconds
    const xs = times.map((t) => t / 1000);
    const end = Math.max(Date.now() / 1000, ...xs);
    const keep = xs.map((_, i) => i).filter((i) => xs[i]! > end - windowS);
    const data = [
      [end - windowS, ...keep.map((i) => xs[i]!), end],
      ...series.map((s) => [null, ...keep.map((i) => s.values[i] ?? null), null]),
    ];
    plot.current?.setData(data as uPlot.AlignedData);
  }, [times, series, windowS]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
