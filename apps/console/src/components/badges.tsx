import type { RiskClass, Role } from "@clawgate/db/enums";
import { formatDateTime } from "./ui/format.ts";

const base = "inline-flex items-center rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset";

const RISK_STYLES: Record<RiskClass, string> = {
  READ: "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
  WRITE: "bg-amber-50 text-amber-800 ring-amber-600/30",
  DESTRUCTIVE: "bg-red-50 text-red-800 ring-red-600/30",
};

export function RiskBadge({ risk }: { risk: RiskClass }) {
  return <span className={`${base} ${RISK_STYLES[risk]}`}>{risk}</span>;
}

/** A skill the code no longer ships: kept with its history, never offered or allowed. */
export function RetiredBadge({ since }: { since: Date }) {
  return (
    <span
      className={`${base} bg-slate-100 text-slate-700 ring-slate-500/30`}
      title={`Retired ${formatDateTime(since)}: no longer shipped, never offered or allowed`}
    >
      Retired
    </span>
  );
}

const ROLE_STYLES: Record<Role, string> = {
  ADMIN: "bg-indigo-50 text-indigo-800 ring-indigo-600/30",
  APPROVER: "bg-sky-50 text-sky-800 ring-sky-600/30",
  OPERATOR: "bg-violet-50 text-violet-800 ring-violet-600/30",
  VIEWER: "bg-slate-100 text-slate-700 ring-slate-500/30",
};

export function RoleBadge({ role }: { role: Role }) {
  return (
    <span className={`${base} ${ROLE_STYLES[role]}`} data-testid="role-badge">
      {role}
    </span>
  );
}
