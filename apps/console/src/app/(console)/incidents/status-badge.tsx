/** An incident's status as people read it: open ones will need a review once their triggers end. */
const STYLES = {
  OPEN: "bg-red-50 text-red-800 ring-red-200",
  NEEDS_REVIEW: "bg-amber-50 text-amber-900 ring-amber-200",
  REVIEWED: "bg-emerald-50 text-emerald-800 ring-emerald-200",
} as const;
const TEXT = { OPEN: "Open", NEEDS_REVIEW: "Needs review", REVIEWED: "Reviewed" } as const;

export function IncidentStatusBadge({ status }: { status: keyof typeof STYLES }) {
  return (
    <span
      className={`inline-flex rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ${STYLES[status]}`}
      data-testid="incident-status"
    >
      {TEXT[status]}
    </span>
  );
}
