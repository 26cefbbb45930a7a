"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { DataTable, td } from "~/components/ui/table.tsx";
import type { ToolSources as Sources } from "~/server/api/routers/tool-source.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "../skills/error-text.ts";

type Tool = Sources["httpTools"][number];
const RISKS = ["READ", "WRITE", "DESTRUCTIVE"] as const;
const button = "rounded-md border border-slate-300 px-2 py-1 text-xs font-medium hover:bg-slate-50 disabled:opacity-50";

export function ToolSources({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const status = useInlineStatus();
  const { data, error, isPending, refetch } = useQuery(trpc.toolSource.list.queryOptions());
  const done = {
    onError: (e: unknown) => status.error(errorText(e)),
    onSettled: () => qc.invalidateQueries({ queryKey: trpc.toolSource.list.queryKey() }),
  };
  const enable = useMutation(
    trpc.toolSource.enable.mutationOptions({
      ...done,
      onSuccess: (r) => status.success(`${r.summary}. Live from config revision ${r.revision}.`),
    }),
  );
  const approve = useMutation(
    trpc.toolSource.approveChange.mutationOptions({
      ...done,
      onSuccess: (r) => status.success(`${r.summary}. Live from config revision ${r.revision}.`),
    }),
  );
  const refresh = useMutation(
    trpc.toolSource.refresh.mutationOptions({
      ...done,
      onSuccess: (r) =>
        r.queued
          ? status.success("The runtime lists the server's tools now; reload in a moment.")
          : status.error("No runtime queue yet: the tools are listed when the runtime starts."),
    }),
  );

  if (isPending) return <LoadingState label="Loading tool sources…" />;
  if (error) return <ErrorState title="The tool sources could not be loaded." error={error} onRetry={refetch} />;

  const toolRows = (tools: Tool[]) =>
    tools.length === 0 ? (
      <EmptyState title="No tools listed yet">
        The runtime lists them at start, every 5 minutes and on Refresh.
      </EmptyState>
    ) : (
      <DataTable caption="Tools" captionHidden columns={["Tool", "Risk class", "State", "Output", "Enabled"]}>
        {tools.map((t) => (
          <tr key={t.key}>
            <td className={td}>
              <div className="font-mono text-sm">{t.key}</div>
              <div className="text-xs text-slate-600">{t.description}</div>
              {t.pendingChanges.length > 0 && (
                <details className="mt-2" open>
                  <summary className="cursor-pointer text-xs font-semibold text-amber-800">
                    Changed on the server: {t.pendingChanges.map((c) => c.field).join(", ")}
                  </summary>
                  {t.pendingChanges.map((c) => (
                    <div key={c.field} className="mt-1 grid grid-cols-2 gap-2 text-xs">
                      <pre className="overflow-auto rounded bg-red-50 p-2 whitespace-pre-wrap">- {c.from}</pre>
                      <pre className="overflow-auto rounded bg-green-50 p-2 whitespace-pre-wrap">+ {c.to}</pre>
                    </div>
                  ))}
                  {canEdit && (
                    <button
                      type="button"
                      className={`${button} mt-2`}
                      disabled={approve.isPending || t.pendingChanges.some((c) => c.field === "removed")}
                      onClick={() => approve.mutate({ key: t.key })}
                    >
                      Approve this change
                    </button>
                  )}
                </details>
              )}
            </td>
            <td className={td}>
              {canEdit && t.state !== "changed" ? (
                <select
                  aria-label={`Risk class of ${t.key}`}
                  value={t.riskClass}
                  className="rounded border border-slate-300 px-1 py-0.5 text-xs"
                  onChange={(e) =>
                    enable.mutate({ key: t.key, enabled: t.enabled, riskClass: e.target.value as Tool["riskClass"] })
                  }
                >
                  {RISKS.filter((r) => RISKS.indexOf(r) >= RISKS.indexOf(t.annotationRisk)).map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              ) : (
                t.riskClass
              )}
              {t.requiresApproval && <div className="text-xs text-slate-600">needs approval</div>}
            </td>
            <td className={td}>
              {t.state === "approved"
                ? "approved (pinned)"
                : t.state === "changed"
                  ? "withdrawn: changed"
                  : "not approved"}
            </td>
            <td className={td + " text-xs"}>
              {t.untrustedOutput ? "untrusted" : "trusted"}
              {t.maskPii ? ", PII masked" : ""}
              {t.outputMaxChars ? `, max ${t.outputMaxChars} chars` : ""}
            </td>
            <td className={td}>
              {canEdit ? (
                <button
                  type="button"
                  className={button}
                  disabled={enable.isPending || (t.state === "changed" && !t.enabled)}
                  onClick={() => enable.mutate({ key: t.key, enabled: !t.enabled })}
                >
                  {t.enabled ? "Disable" : `Enable as ${t.riskClass}`}
                </button>
              ) : t.enabled ? (
                "yes"
              ) : (
                "no"
              )}
            </td>
          </tr>
        ))}
      </DataTable>
    );

  return (
    <div className="space-y-6">
      <InlineStatus status={status.current} onDismiss={status.clear} />
      {data.servers.length === 0 && data.httpTools.length === 0 && (
        <EmptyState title="No tool sources yet">
          Register an MCP server or an HTTP tool in the onboard YAML (mcp_servers, http_tools).
        </EmptyState>
      )}
      {data.servers.map((s) => (
        <section key={s.name} className="space-y-2" aria-label={`MCP server ${s.name}`}>
          <div className="flex flex-wrap items-baseline gap-3">
            <h2 className="text-lg font-semibold">MCP server {s.name}</h2>
            <span className="font-mono text-xs text-slate-600">{s.url}</span>
            <span
              role="status"
              className={`text-xs ${s.status.startsWith("unavailable") ? "text-red-700" : "text-slate-700"}`}
            >
              {s.status}
            </span>
            <span className="text-xs text-slate-600">
              last listing: {s.lastListedAt ? new Date(s.lastListedAt).toLocaleString() : "never"}; timeout{" "}
              {s.timeoutMs} ms; at most {s.maxConcurrency} calls at once
              {s.headers.length > 0 ? `; headers from env: ${s.headers.join(", ")}` : ""}
            </span>
            {canEdit && (
              <button
                type="button"
                className={button}
                disabled={refresh.isPending}
                onClick={() => refresh.mutate({ name: s.name })}
              >
                Refresh
              </button>
            )}
          </div>
          {toolRows(s.tools)}
        </section>
      ))}
      {data.httpTools.length > 0 && (
        <section className="space-y-2" aria-label="HTTP tools">
          <h2 className="text-lg font-semibold">HTTP tools</h2>
          {toolRows(data.httpTools)}
        </section>
      )}
    </div>
  );
}
