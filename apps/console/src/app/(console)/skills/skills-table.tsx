"use client";
import { useQuery } from "@tanstack/react-query";
import { RiskBadge } from "~/components/badges.tsx";
import type { SkillListItem } from "~/server/api/routers/skill.ts";
import { useTRPC } from "~/trpc/react.tsx";

const th = "px-4 py-3 text-left text-xs font-semibold tracking-wide text-slate-600 uppercase";
const td = "px-4 py-3 align-top text-sm";

function Indicator({ on, label, tone }: { on: boolean; label: string; tone: "good" | "warn" }) {
  const dot = on ? (tone === "good" ? "bg-emerald-500" : "bg-amber-500") : "bg-slate-300";
  return (
    <span className={`inline-flex items-center gap-1.5 whitespace-nowrap ${on ? "text-slate-900" : "text-slate-500"}`}>
      <span aria-hidden className={`size-2 shrink-0 rounded-full ${dot}`} />
      {label}
    </span>
  );
}

function Row({ skill }: { skill: SkillListItem }) {
  return (
    <tr className="hover:bg-slate-50">
      <th scope="row" className={`${td} min-w-64 text-left font-normal`}>
        <code className="font-mono text-sm font-semibold text-slate-900">{skill.key}</code>
        <p className="mt-0.5 max-w-md text-slate-600">{skill.description}</p>
      </th>
      <td className={td}>
        <RiskBadge risk={skill.riskClass} />
      </td>
      <td className={td}>
        <Indicator on={skill.enabled} tone="good" label={skill.enabled ? "Enabled" : "Disabled"} />
      </td>
      <td className={td}>
        <Indicator on={skill.requiresApproval} tone="warn" label={skill.requiresApproval ? "Required" : "Not required"} />
      </td>
      <td className={`${td} whitespace-nowrap text-slate-700`}>{skill.environments.join(", ") || "none"}</td>
      <td className={`${td} whitespace-nowrap text-slate-700 tabular-nums`}>
        {skill.timeoutMs / 1000}s{skill.cacheTtlSeconds > 0 && <span className="text-slate-500"> · cache {skill.cacheTtlSeconds}s</span>}
      </td>
      <td className={`${td} whitespace-nowrap text-slate-700 tabular-nums`}>
        {skill.rules.allow} allow · {skill.rules.deny} deny
      </td>
    </tr>
  );
}

function Panel({ children, role }: { children: React.ReactNode; role?: "alert" | "status" }) {
  return (
    <div role={role} className="rounded-lg border border-slate-200 bg-white px-6 py-10 text-center text-sm text-slate-600">
      {children}
    </div>
  );
}

export function SkillsTable() {
  const trpc = useTRPC();
  const { data, error, isPending, refetch } = useQuery(trpc.skill.list.queryOptions());

  if (isPending) return <Panel role="status">Loading skills…</Panel>;
  if (error)
    return (
      <Panel role="alert">
        <p className="font-medium text-red-800">The skills could not be loaded.</p>
        <p className="mt-1">{error.message}</p>
        <button type="button" onClick={() => void refetch()} className="mt-4 rounded-md px-3 py-1.5 font-semibold ring-1 ring-slate-300 hover:bg-slate-100">
          Try again
        </button>
      </Panel>
    );
  if (data.length === 0)
    return (
      <Panel>
        <p className="font-medium text-slate-900">No skills yet</p>
        <p className="mt-1">Built-in skills appear here once the database is seeded (<code>npx clawgate seed --demo</code>).</p>
      </Panel>
    );

  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
      <table className="min-w-full divide-y divide-slate-200">
        <caption className="px-4 py-3 text-left text-sm text-slate-600">
          Skills the robot can call: {data.length} in total, {data.filter((s) => s.enabled).length} enabled
        </caption>
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className={th}>Skill</th>
            <th scope="col" className={th}>Risk</th>
            <th scope="col" className={th}>Status</th>
            <th scope="col" className={th}>Approval</th>
            <th scope="col" className={th}>Environments</th>
            <th scope="col" className={th}>Timeout</th>
            <th scope="col" className={th}>Rules</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {data.map((skill) => (
            <Row key={skill.key} skill={skill} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
