/**
 * BarChart: a tiny SVG bar chart (e.g. messages per hour) with a text alternative. The SVG is
 * role="img" labelled by `label` plus a summary (total, peak); the exact numbers are in a
 * visually hidden table for screen readers. Bars stretch to the container's width. With nothing
 * to draw (no data, or all zero) it says so (`empty`, default "No data for this period.").
 *
 *   <BarChart label="Inbound messages per hour, last 24 h" data={[{ label: "09:00", value: 4 }, ...]} />
 */
export interface BarDatum {
  label: string;
  value: number;
}

export function BarChart({
  label,
  data,
  height = 64,
  tone = "fill-indigo-500",
  empty = "No data for this period.",
}: {
  label: string;
  data: BarDatum[];
  height?: number;
  tone?: string;
  empty?: string;
}) {
  const max = Math.max(1, ...data.map((d) => d.value));
  const total = data.reduce((s, d) => s + d.value, 0);
  const peak = data.reduce<BarDatum | undefined>((p, d) => (!p || d.value > p.value ? d : p), undefined);
  const summary = `${label}: ${total} in total${peak && peak.value > 0 ? `, peak ${peak.value} at ${peak.label}` : ""}`;
  const w = 10; // viewBox units per bar (incl. a 2-unit gap)
  if (total === 0)
    return (
      <figure className="grid h-16 place-items-center rounded-md border border-dashed border-slate-200 bg-slate-50/50">
        <figcaption className="text-sm text-slate-500" data-testid="chart-empty">
          <span className="sr-only">{label}: </span>
          {empty}
        </figcaption>
      </figure>
    );
  return (
    <figure className="relative space-y-1">
      <svg
        role="img"
        aria-label={summary}
        viewBox={`0 0 ${Math.max(1, data.length) * w} ${height}`}
        preserveAspectRatio="none"
        className="h-16 w-full"
      >
        {data.map((d, i) => {
          const h = d.value === 0 ? 0 : Math.max(2, (d.value / max) * height);
          return (
            <rect key={`${d.label}-${i}`} x={i * w + 1} y={height - h} width={w - 2} height={h} className={tone}>
              <title>{`${d.label}: ${d.value}`}</title>
            </rect>
          );
        })}
        <line
          x1={0}
          x2={data.length * w}
          y1={height - 0.5}
          y2={height - 0.5}
          className="stroke-slate-300"
          strokeWidth={1}
        />
      </svg>
      <table className="sr-only">
        <caption>{label}</caption>
        <tbody>
          {data.map((d, i) => (
            <tr key={`${d.label}-${i}`}>
              <th scope="row">{d.label}</th>
              <td>{d.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
