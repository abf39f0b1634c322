// Two small charts drawn as SVG (a line over days, stacked bars by month): the
// console has no chart library, as two charts do not need one (docs/CONSOLE.md).
// Each chart is an image with a label for screen readers, followed by the same
// figures as a table (visually hidden), and its colours come from the stylesheet.
import { useEffect, useRef, useState } from "preact/hooks";
import { niceMax } from "../logic";

export interface Series {
  name: string;
  values: number[];
  /** The stylesheet's class for its colour: series-a, series-b. */
  cls: string;
}

interface Props {
  label: string;
  /** The x labels (days, months), one for each value of each series. */
  xs: string[];
  series: Series[];
  format: (v: number) => string;
  /** xLabel shows an x value on the axis (shorter than in the table). */
  xLabel?: (x: string) => string;
}

// The charts draw in CSS pixels at the width they are given (measured), so that
// their text stays legible from a phone to a wide screen.
const H = 220;

/** useWidth is the width of the element ref points at, followed as it changes. */
function useWidth(): [preact.RefObject<HTMLElement>, number] {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(240, Math.round(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width];
}
const left = 64;
const right = 28;
const top = 12;
const bottom = 28;

function Axis({ max, format, W }: { max: number; format: (v: number) => string; W: number }) {
  const ticks = [0, 0.5, 1].map((f) => f * max);
  return (
    <g class="axis">
      {ticks.map((v) => {
        const y = top + (H - top - bottom) * (1 - v / max);
        return (
          <g>
            <line x1={left} x2={W - right} y1={y} y2={y} />
            <text x={left - 6} y={y + 4} text-anchor="end">
              {format(v)}
            </text>
          </g>
        );
      })}
    </g>
  );
}

function XLabels({ xs, at, xLabel }: { xs: string[]; at: (i: number) => number; xLabel: (x: string) => string }) {
  // At most about eight labels, evenly spread, the last one always shown.
  const every = Math.max(1, Math.ceil(xs.length / 8));
  return (
    <g class="axis">
      {xs.map((x, i) =>
        i % every === 0 || i === xs.length - 1 ? (
          <text x={at(i)} y={H - 8} text-anchor="middle">
            {xLabel(x)}
          </text>
        ) : null,
      )}
    </g>
  );
}

function Table({ label, xs, series, format }: Props) {
  return (
    <table class="sr-only">
      <caption>{label}</caption>
      <thead>
        <tr>
          <td />
          {series.map((s) => (
            <th scope="col">{s.name}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {xs.map((x, i) => (
          <tr>
            <th scope="row">{x}</th>
            {series.map((s) => (
              <td>{format(s.values[i] ?? 0)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Legend({ series }: { series: Series[] }) {
  return (
    <ul class="legend" aria-hidden="true">
      {series.map((s) => (
        <li>
          <span class={`swatch ${s.cls}`} />
          {s.name}
        </li>
      ))}
    </ul>
  );
}

/** LineChart draws each series as a line over the xs (days), from zero. */
export function LineChart(props: Props) {
  const { label, xs, series, format, xLabel = (x) => x } = props;
  const [ref, width] = useWidth();
  const W = width;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const span = W - left - right;
  const at = (i: number) => left + (xs.length <= 1 ? span / 2 : (span * i) / (xs.length - 1));
  const y = (v: number) => top + (H - top - bottom) * (1 - v / max);
  return (
    <figure class="chart" ref={ref}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label}>
        <Axis max={max} format={format} W={W} />
        {series.map((s) => (
          <g class={s.cls}>
            <polyline fill="none" points={s.values.map((v, i) => `${at(i)},${y(v)}`).join(" ")} />
            {s.values.map((v, i) => (
              <circle cx={at(i)} cy={y(v)} r={3} />
            ))}
          </g>
        ))}
        <XLabels xs={xs} at={at} xLabel={xLabel} />
      </svg>
      <Legend series={series} />
      <Table {...props} />
    </figure>
  );
}

/** BarChart stacks the series in one bar per x (month). */
export function BarChart(props: Props) {
  const { label, xs, series, format, xLabel = (x) => x } = props;
  const [ref, width] = useWidth();
  const W = width;
  const totals = xs.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const span = W - left - right;
  const slot = span / Math.max(xs.length, 1);
  const barW = Math.min(48, slot * 0.7);
  const at = (i: number) => left + slot * i + slot / 2;
  const h = (v: number) => ((H - top - bottom) * v) / max;
  return (
    <figure class="chart" ref={ref}>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label}>
        <Axis max={max} format={format} W={W} />
        {xs.map((_, i) => {
          let base = H - bottom;
          return (
            <g>
              {series.map((s) => {
                const height = h(s.values[i] ?? 0);
                base -= height;
                return <rect class={s.cls} x={at(i) - barW / 2} y={base} width={barW} height={height} />;
              })}
            </g>
          );
        })}
        <XLabels xs={xs} at={at} xLabel={xLabel} />
      </svg>
      <Legend series={series} />
      <Table {...props} />
    </figure>
  );
}
