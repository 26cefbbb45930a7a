"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useState } from "react";
import { RetiredBadge, RiskBadge } from "~/components/badges.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { DataTable, td } from "~/components/ui/table.tsx";
import type { SkillListItem } from "~/server/api/routers/skill.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { AccessCheck } from "./access-check.tsx";
import { ApprovalControl, EnabledControl, EnvironmentsControl } from "./skill-controls.tsx";
import { useSkillUpdate } from "./use-skill-update.ts";

const RISKS = ["READ", "WRITE", "DESTRUCTIVE"] as const;

function Row({
  skill,
  canEdit,
  update,
}: {
  skill: SkillListItem;
  canEdit: boolean;
  update: ReturnType<typeof useSkillUpdate>;
}) {
  return (
    <tr className="hover:bg-slate-50">
      <th scope="row" className={`${td} min-w-56 text-left font-normal`}>
        <Link
          href={`/skills/${encodeURIComponent(skill.key)}`}
          className="font-mono text-sm font-semibold text-indigo-700 hover:underline"
        >
          {skill.key}
        </Link>
        <p className="mt-0.5 max-w-xs text-slate-600">{skill.description}</p>
        {skill.source !== "BUILTIN" && (
          <p className="mt-0.5 text-xs text-slate-600">
            Source:{" "}
            <Link href="/tool-sources" className="text-indigo-700 hover:underline">
              {skill.source === "MCP" ? "MCP server" : "HTTP tool"}
            </Link>
            {skill.untrustedOutput ? " · untrusted output" : ""}
          </p>
        )}
      </th>
      <td className={td}>
        <RiskBadge risk={skill.riskClass} />
      </td>
      {skill.retiredAt ? (
        <td className={td} colSpan={3}>
          <RetiredBadge since={skill.retiredAt} />
          <span className="ml-2 text-slate-600">no longer shipped: never offered or allowed</span>
        </td>
      ) : (
        <>
          <td className={td}>
            <EnabledControl skill={skill} canEdit={canEdit} update={update} />
          </td>
          <td className={td}>
            <ApprovalControl skill={skill} canEdit={canEdit} update={update} />
          </td>
          <td className={td}>
            <EnvironmentsControl skill={skill} canEdit={canEdit} update={update} />
          </td>
        </>
      )}
      <td className={`${td} whitespace-nowrap text-slate-700 tabular-nums`}>
        {skill.timeoutMs / 1000}s
        {skill.cacheTtlSeconds > 0 && (
          <span className="block text-xs text-slate-500">cached {skill.cacheTtlSeconds}s</span>
        )}
      </td>
      <td className={`${td} whitespace-nowrap tabular-nums`}>
        <Link
          href={`/skills/${encodeURIComponent(skill.key)}#rules`}
          className="text-slate-700 hover:text-indigo-700 hover:underline"
        >
          <span className="block">{skill.rules.allow} allow</span>
          <span className="block">{skill.rules.deny} deny</span>
        </Link>
      </td>
    </tr>
  );
}

export function SkillsTable({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const id = useId();
  const { data, error, isPending, refetch } = useQuery(trpc.skill.list.queryOptions());
  const status = useInlineStatus();
  const update = useSkillUpdate(status);
  const [search, setSearch] = useState("");
  const [risk, setRisk] = useState<"" | (typeof RISKS)[number]>("");

  if (isPending) return <LoadingState label="Loading skills…" />;
  if (error) return <ErrorState title="The skills could not be loaded." error={error} onRetry={refetch} />;
  if (data.length === 0)
    return (
      <EmptyState title="No skills yet">
        Built-in skills appear here once the database is migrated (<code>npx clawgate migrate</code> creates them).
      </EmptyState>
    );

  const q = search.trim().toLowerCase();
  const shown = data.filter(
    (s) => (!risk || s.riskClass === risk) && (!q || s.key.includes(q) || s.description.toLowerCase().includes(q)),
  );

  return (
    <div className="space-y-4">
      <InlineStatus status={status.current} onDismiss={status.clear} />
      <div className="flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor={`${id}-search`} className="block text-sm font-medium text-slate-700">
            Search
          </label>
          <input
            id={`${id}-search`}
            type="search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            placeholder="key or description"
            className="mt-1 w-56 rounded-md border border-slate-300 px-3 py-1.5 text-sm"
          />
        </div>
        <div>
          <label htmlFor={`${id}-risk`} className="block text-sm font-medium text-slate-700">
            Risk
          </label>
          <select
            id={`${id}-risk`}
            value={risk}
            onChange={(e) => setRisk(e.target.value as typeof risk)}
            className="mt-1 rounded-md border border-slate-300 px-3 py-1.5 text-sm"
          >
            <option value="">All</option>
            {RISKS.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
      </div>
      {shown.length === 0 ? (
        <EmptyState
          title="No skill matches these filters"
          action={
            <button
              type="button"
              onClick={() => (setSearch(""), setRisk(""))}
              className="rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
            >
              Clear filters
            </button>
          }
        />
      ) : (
        <DataTable
          caption={
            <>
              Skills the robot can call: {data.length} in total, {data.filter((s) => s.enabled && !s.retiredAt).length}{" "}
              enabled
              {shown.length !== data.length && `; ${shown.length} shown`}
            </>
          }
          columns={["Skill", "Risk", "Status", "Approval", "Environments", "Timeout", "Rules"]}
        >
          {shown.map((skill) => (
            <Row key={skill.key} skill={skill} canEdit={canEdit} update={update} />
          ))}
        </DataTable>
      )}
      <AccessCheck skillKeys={data.map((s) => s.key)} />
    </div>
  );
}
