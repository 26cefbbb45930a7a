"use client";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useId, useState } from "react";
import type { ApprovalStatus } from "@clawgate/db/enums";
import { RiskBadge } from "~/components/badges.tsx";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { Pagination } from "~/components/ui/pagination.tsx";
import type { AppRouter } from "~/server/api/root.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { withErrorText } from "../models/form.tsx";
import { PAGE_SIZE } from "./list-input.ts";

type ApprovalList = inferRouterOutputs<AppRouter>["approval"]["list"];
type Item = ApprovalList["items"][number];
type Status = ReturnType<typeof useInlineStatus>;

const FILTERS: { value: ApprovalStatus | undefined; label: string }[] = [
  { value: undefined, label: "All" },
  { value: "PENDING", label: "Pending" },
  { value: "APPROVED", label: "Approved" },
  { value: "REJECTED", label: "Rejected" },
  { value: "EXECUTED", label: "Executed" },
  { value: "FAILED", label: "Failed" },
  { value: "EXPIRED", label: "Expired" },
  { value: "INVALIDATED", label: "Invalidated" },
];

const STATUS_STYLES: Record<ApprovalStatus, string> = {
  PENDING: "bg-amber-50 text-amber-800 ring-amber-600/30",
  APPROVED: "bg-sky-50 text-sky-800 ring-sky-600/30",
  EXECUTED: "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
  REJECTED: "bg-slate-100 text-slate-700 ring-slate-500/30",
  EXPIRED: "bg-slate-100 text-slate-600 ring-slate-500/30",
  FAILED: "bg-red-50 text-red-800 ring-red-600/30",
  INVALIDATED: "bg-orange-50 text-orange-800 ring-orange-600/30",
};

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
/** "5 minutes ago" / "in 2 hours", relative to the server's `now` (the same text on server and client). */
function relative(date: Date, now: Date): string {
  const s = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(s);
  if (abs < 60) return rtf.format(s, "second");
  if (abs < 3_600) return rtf.format(Math.round(s / 60), "minute");
  if (abs < 86_400) return rtf.format(Math.round(s / 3_600), "hour");
  return rtf.format(Math.round(s / 86_400), "day");
}

export function ApprovalsView({ canDecide }: { canDecide: boolean }) {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<ApprovalStatus | undefined>(undefined);
  const [page, setPage] = useState(1);
  const status = useInlineStatus();
  const input = { page, pageSize: PAGE_SIZE, ...(filter && { status: filter }) };
  const { data, error, isPending, isFetching, refetch } = useQuery(
    // New requests arrive from the runtime: poll, keeping the current page while the next loads.
    trpc.approval.list.queryOptions(input, { refetchInterval: 10_000, placeholderData: keepPreviousData }),
  );

  return (
    <div className="space-y-4">
      <ApproverMetrics />
      <div role="group" aria-label="Filter by status" className="flex flex-wrap gap-2">
        {FILTERS.map((f) => {
          const active = f.value === filter;
          return (
            <button
              key={f.label}
              type="button"
              aria-pressed={active}
              onClick={() => {
                setFilter(f.value);
                setPage(1);
              }}
              className={`rounded-full px-3 py-1 text-sm font-medium ring-1 ring-inset ${active ? "bg-indigo-600 text-white ring-indigo-600" : "bg-white text-slate-700 ring-slate-300 hover:bg-slate-100"}`}
            >
              {f.label}
              {f.value === "PENDING" && data && data.pending > 0 && (
                <>
                  <span
                    aria-hidden
                    className={`ml-1.5 rounded-full px-1.5 text-xs ${active ? "bg-white/20" : "bg-amber-100 text-amber-900"}`}
                  >
                    {data.pending}
                  </span>
                  <span className="sr-only"> ({data.pending} waiting)</span>
                </>
              )}
            </button>
          );
        })}
      </div>
      <InlineStatus status={status.current} onDismiss={status.clear} />
      {isPending ? (
        <LoadingState label="Loading approval requests…" />
      ) : error ? (
        <ErrorState title="The approval requests could not be loaded." error={error} onRetry={refetch} />
      ) : data.items.length === 0 ? (
        <EmptyState title={filter ? `No ${filter.toLowerCase()} requests` : "No approval requests yet"}>
          Requests appear here when the robot wants to run a skill that needs an approver&apos;s grant.
        </EmptyState>
      ) : (
        <>
          <ul aria-label="Approval requests" aria-busy={isFetching} className="space-y-3">
            {data.items.map((item) => (
              <ApprovalCard key={item.id} item={item} now={data.now} canDecide={canDecide} status={status} />
            ))}
          </ul>
          <Pagination
            label="Approval requests"
            page={data.page}
            pageCount={data.pageCount}
            onPage={setPage}
            summary={`Page ${data.page} of ${data.pageCount} · ${data.total} request${data.total === 1 ? "" : "s"}`}
          />
        </>
      )}
    </div>
  );
}

const seconds = (s: number | null) =>
  s === null
    ? "–"
    : s < 90
      ? `${Math.round(s)} s`
      : s < 5_400
        ? `${Math.round(s / 60)} min`
        : `${(s / 3_600).toFixed(1)} h`;

/** Time to decision p50/p95, expiry rate and pending count (the same numbers as /metrics). */
function ApproverMetrics() {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.approval.metrics.queryOptions(undefined, { refetchInterval: 30_000 }));
  if (!data) return null;
  const stats = [
    { label: "Pending", value: String(data.pending) },
    { label: "Time to decision (p50)", value: seconds(data.decisionP50Seconds) },
    { label: "Time to decision (p95)", value: seconds(data.decisionP95Seconds) },
    {
      label: "Expired without a decision",
      value: data.expiryRate === null ? "–" : `${Math.round(data.expiryRate * 100)} %`,
    },
  ];
  return (
    <dl aria-label={`Approver metrics, last ${data.windowDays} days`} className="grid grid-cols-2 gap-3 sm:grid-cols-4">
      {stats.map((s) => (
        <div key={s.label} className="rounded-lg border border-slate-200 bg-white p-3">
          <dt className="text-xs text-slate-600">{s.label}</dt>
          <dd className="text-lg font-semibold text-slate-900">{s.value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ApprovalCard({ item, now, canDecide, status }: { item: Item; now: Date; canDecide: boolean; status: Status }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const headingId = useId();
  const [confirm, setConfirm] = useState<"approve" | "reject" | null>(null);
  const decide = useMutation(
    trpc.approval.decide.mutationOptions({
      onSuccess: (r) =>
        status.success(
          r.status === "PENDING"
            ? `Your approval of ${item.skillKey} is recorded: ${r.approvals} of ${r.required} approvals.`
            : `${item.skillKey} request ${r.status === "APPROVED" ? "approved: the runtime runs it and replies in the conversation" : "rejected: the requester is told"}.`,
        ),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.approval.pathKey() }),
    }),
  );
  const expired = item.status === "PENDING" && item.expiresAt <= now;
  const open = item.status === "PENDING" && !expired;
  const conversation = item.conversationTitle ?? item.conversationId;
  const requester = item.requesterName ?? item.requesterId;
  const risk = item.riskClass === "DESTRUCTIVE" ? item.riskClass : item.skill.riskClass;

  return (
    <li
      aria-labelledby={headingId}
      className={`rounded-lg border bg-white p-4 shadow-sm ${open ? "border-amber-300" : "border-slate-200"}`}
    >
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0 space-y-1">
          <h2 id={headingId} className="flex flex-wrap items-center gap-2">
            <code className="font-mono font-semibold text-slate-900">{item.skillKey}</code>
            <RiskBadge risk={risk} />
            <span
              className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${STATUS_STYLES[expired ? "EXPIRED" : item.status]}`}
            >
              {expired ? "EXPIRED" : item.status}
            </span>
          </h2>
          <p className="text-sm text-slate-600">
            Requested by <span className="font-medium text-slate-800">{requester}</span>
            {item.requesterName && item.requesterName !== item.requesterId && (
              <code className="ml-1 font-mono text-xs text-slate-500">({item.requesterId})</code>
            )}{" "}
            in <span className="font-medium text-slate-800">{conversation}</span>
            {item.conversationTitle && (
              <code className="ml-1 font-mono text-xs text-slate-500">({item.conversationId})</code>
            )}
          </p>
          <p className="text-xs text-slate-500">
            <time dateTime={item.createdAt.toISOString()} title={item.createdAt.toISOString()}>
              {relative(item.createdAt, now)}
            </time>
            {" · "}
            {item.status === "PENDING" ? (
              <time
                dateTime={item.expiresAt.toISOString()}
                title={item.expiresAt.toISOString()}
                className={expired ? "font-semibold text-red-700" : ""}
              >
                {expired ? `expired ${relative(item.expiresAt, now)}` : `expires ${relative(item.expiresAt, now)}`}
              </time>
            ) : item.decidedAt ? (
              <>
                decided {relative(item.decidedAt, now)}
                {item.decidedBy && ` by ${item.decidedBy}`}
              </>
            ) : (
              <>no decision</>
            )}
            {item.executedAt && ` · executed ${relative(item.executedAt, now)}`}
            {item.escalatedAt && item.status === "PENDING" && " · escalated"}
          </p>
          {(item.requiredApprovals > 1 || item.decisions.length > 0) && (
            <p className="text-sm text-slate-700" data-testid="approval-votes">
              {item.requiredApprovals > 1 && (
                <span className="font-medium">
                  {item.approvals} of {item.requiredApprovals} approvals
                </span>
              )}
              {item.decisions.length > 0 && (
                <>
                  {item.requiredApprovals > 1 && ": "}
                  {item.decisions
                    .map(
                      (d) =>
                        `${d.approve ? "approved" : "rejected"} by ${d.deciderName}${d.channel === "CARD" ? " (DingTalk card)" : ""}`,
                    )
                    .join(", ")}
                </>
              )}
            </p>
          )}
          {item.reason && <p className="text-sm text-slate-700">Why approval is needed: {item.reason}</p>}
          {item.outcome && <p className="text-sm text-red-800">{item.outcome}</p>}
        </div>
        {canDecide && open && (
          <div className="flex gap-2">
            <button
              type="button"
              data-mutates
              onClick={() => setConfirm("approve")}
              className="rounded-md bg-emerald-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-emerald-500"
            >
              Approve
            </button>
            <button
              type="button"
              data-mutates
              onClick={() => setConfirm("reject")}
              className="rounded-md px-3 py-1.5 text-sm font-semibold text-red-700 ring-1 ring-red-300 hover:bg-red-50"
            >
              Reject
            </button>
          </div>
        )}
      </div>
      <div className="mt-3">
        <p className="text-xs font-semibold tracking-wide text-slate-600 uppercase">Input</p>
        <pre
          className="mt-1 max-h-64 overflow-auto rounded-md bg-slate-50 p-3 font-mono text-xs whitespace-pre-wrap break-all text-slate-800 ring-1 ring-slate-200"
          aria-label={`Input of the ${item.skillKey} request`}
        >
          {JSON.stringify(item.input, null, 2)}
        </pre>
      </div>
      {item.decisionNote && (
        <p className="mt-2 text-sm text-slate-700">
          <span className="font-medium">Note:</span> {item.decisionNote}
        </p>
      )}
      {canDecide && open && (
        <ConfirmDialog
          open={confirm !== null}
          onOpenChange={(o) => !o && setConfirm(null)}
          variant={confirm === "reject" ? "danger" : "default"}
          title={confirm === "approve" ? `Approve ${item.skillKey}?` : `Reject ${item.skillKey}?`}
          description={
            confirm === "approve"
              ? item.requiredApprovals > 1
                ? `Your approval counts as one of the ${item.requiredApprovals} needed; the runtime runs ${item.skillKey} once they are given.`
                : `The runtime runs ${item.skillKey} with the input shown and replies in ${conversation}.`
              : `The call is not run; ${requester} is told it was rejected, with your note.`
          }
          confirmLabel={confirm === "approve" ? "Approve" : "Reject"}
          reason={{
            label: "Note",
            maxLength: 1000,
            placeholder: confirm === "reject" ? "Why (shown to the requester)" : undefined,
          }}
          onConfirm={(note) =>
            withErrorText(() =>
              decide.mutateAsync({ id: item.id, approve: confirm === "approve", ...(note && { note }) }),
            )
          }
        />
      )}
    </li>
  );
}
