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
        x: {
          time: true,
          range: (_u: uPlot, _min: number, max: number) => {
            const end = Math.max(Number.isFinite(max) ? max : 0, Date.now() / 1000);
            return [end - windowS, end];
          },
        },
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
    plot.current?.setData([times.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [times, series]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
