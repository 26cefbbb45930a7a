/**
 * UsageBar: a labelled meter of used / limit (role="meter" with aria values), coloured by how
 * full it is: green below `warnAt` (default 75 %), amber up to `dangerAt` (default 90 %), red
 * above. A null limit means "no limit" (an empty bar and the plain count). Past the limit it
 * says so ("over budget: 25,779 of 50 tokens") instead of a percentage in the thousands.
 *
 *   <UsageBar label="Tokens today · default" used={41_200} limit={100_000} unit="tokens" />
 */
import { formatNumber } from "./format.ts";

/** The meter's words: "41,200 of 100,000 tokens (41%)", "over budget: …", "…, no limit". */
export function usageText(used: number, limit: number | null, unit = ""): string {
  const u = unit && ` ${unit}`;
  if (!limit) return `${formatNumber(used)}${u}, no limit`;
  const amounts = `${formatNumber(used)} of ${formatNumber(limit)}${u}`;
  if (used > limit) return `over budget: ${amounts}`;
  return `${amounts} (${Math.round((used / limit) * 100)}%)`;
}

export function usageTone(ratio: number, warnAt = 0.75, dangerAt = 0.9): "ok" | "warn" | "danger" {
  return ratio >= dangerAt ? "danger" : ratio >= warnAt ? "warn" : "ok";
}

const TONES = { ok: "bg-emerald-500", warn: "bg-amber-500", danger: "bg-red-600" } as const;

export function UsageBar(props: {
  label: string;
  used: number;
  limit: number | null;
  unit?: string;
  warnAt?: number;
  dangerAt?: number;
}) {
  const { label, used, limit, unit = "" } = props;
  const ratio = limit && limit > 0 ? used / limit : 0;
  const pct = Math.round(ratio * 100);
  const tone = usageTone(ratio, props.warnAt, props.dangerAt);
  const text = usageText(used, limit, unit);
  return (
    <div className="space-y-1">
      <div className="flex flex-wrap items-baseline justify-between gap-x-2 text-sm">
        <span className="min-w-0 font-medium text-slate-800">{label}</span>
        <span className={`ml-auto tabular-nums ${tone === "danger" ? "font-semibold text-red-700" : "text-slate-600"}`}>
          {text}
        </span>
      </div>
      <div
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={limit ?? Math.max(used, 1)}
        aria-valuenow={Math.min(used, limit ?? used)}
        aria-valuetext={text}
        className="h-2 w-full overflow-hidden rounded-full bg-slate-200"
      >
        <div
          className={`h-full rounded-full ${limit ? TONES[tone] : ""}`}
          style={{ width: `${Math.min(100, pct)}%` }}
        />
      </div>
    </div>
  );
}
