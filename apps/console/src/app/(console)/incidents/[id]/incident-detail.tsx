"use client";
/**
 * One incident: its triggers, the timeline of everything in its window (the report
 * `clawgate incident report` writes), and its review.
 */
import Link from "next/link";
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { btnPrimary } from "~/components/ui/styles.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "../../skills/error-text.ts";
import { IncidentStatusBadge } from "../status-badge.tsx";

const KIND_TEXT: Record<string, string> = {
  trigger: "Trigger",
  config: "Config change",
  audit: "Audit",
  sign_in: "Sign-in",
  refused: "Refused",
  invocation: "Skill call",
  denial: "Denied",
  approval: "Approval request",
  decision: "Approval decision",
  error: "Error",
  fallback: "Fallback",
};

const timeOf = (d: Date) => d.toISOString().slice(11, 19);

export function IncidentDetail({ id, canReview }: { id: string; canReview: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useInlineStatus();
  const [review, setReview] = useState("");
  const { data, error, refetch, isFetching } = useQuery({
    ...trpc.incident.report.queryOptions({ id }),
    refetchInterval: 15_000,
  });
  const save = useMutation(
    trpc.incident.review.mutationOptions({
      onSuccess: () => {
        status.success("Review recorded.");
        setReview("");
      },
      onError: (e) => status.error(errorText(e)),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.incident.pathKey() }),
    }),
  );

  if (error && !data) return <ErrorState title="The incident could not be loaded." error={error} onRetry={refetch} />;
  if (!data) return <LoadingState label="Loading the incident…" />;
  const i = data.incident;
  return (
    <div className="space-y-4">
      <p className="text-sm">
        <Link href="/incidents" className="text-indigo-700 hover:underline">
          ← Incidents
        </Link>
      </p>
      <PageHeader title={`Incident: ${i.title}`}>
        <IncidentStatusBadge status={i.status} /> {formatDateTime(data.window.from)} to{" "}
        {i.closedAt ? formatDateTime(data.window.to) : "now (still open)"} · opened by {i.openedBy} · export:{" "}
        <code className="font-mono">clawgate incident report {i.id} --format md</code>
      </PageHeader>

      <section aria-labelledby="inc-review" className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
        <h2 id="inc-review" className="text-sm font-semibold text-slate-900">
          Review
        </h2>
        <InlineStatus status={status.current} onDismiss={status.clear} />
        {i.status === "REVIEWED" ? (
          <div className="mt-2 text-sm">
            <p className="text-slate-600">
              Reviewed by {i.reviewedBy} on {formatDateTime(i.reviewedAt)}:
            </p>
            <p className="mt-1 whitespace-pre-wrap text-slate-900">{i.review}</p>
          </div>
        ) : i.status === "OPEN" ? (
          <p className="mt-2 text-sm text-amber-900" data-testid="review-prompt">
            Needs a review once it ends: its triggers are still in force (the last one ends{" "}
            {lastEnd(data.triggers) ? formatDateTime(lastEnd(data.triggers)) : "when someone ends it"}).
          </p>
        ) : (
          <>
            <p className="mt-2 text-sm text-amber-900" data-testid="review-prompt">
              Needs review: say what happened and what was learned.
            </p>
            {canReview && (
              <form
                className="mt-3 space-y-2"
                onSubmit={(e) => {
                  e.preventDefault();
                  save.mutate({ id: i.id, review });
                }}
              >
                <label htmlFor="inc-review-text" className="block text-sm font-medium text-slate-800">
                  What happened, and what was learned
                </label>
                <textarea
                  id="inc-review-text"
                  className="block w-full rounded-md border border-slate-300 p-2 text-sm"
                  rows={4}
                  maxLength={10_000}
                  value={review}
                  onChange={(e) => setReview(e.target.value)}
                />
                <button type="submit" className={btnPrimary} disabled={save.isPending} data-mutates>
                  Record review
                </button>
              </form>
            )}
          </>
        )}
      </section>

      <DataTable
        caption={`Timeline: ${data.entries.length} event${data.entries.length === 1 ? "" : "s"} in the window (UTC)${data.truncated ? "; cut at the report's limit, see the audit log for the rest" : ""}`}
        columns={["Time", "What", "Who", "Detail"]}
        fetching={isFetching}
      >
        {data.entries.map((e, n) => (
          <tr key={n} data-testid="timeline-entry" data-kind={e.kind}>
            <td className={`${td} font-mono whitespace-nowrap`} title={e.at.toISOString()}>
              {timeOf(e.at)}
            </td>
            <td className={td}>{KIND_TEXT[e.kind] ?? e.kind}</td>
            <td className={`${td} break-words`}>{e.actor}</td>
            <td className={`${td} break-words`}>{e.summary}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}

function lastEnd(triggers: Array<{ endedAt: Date | null }>): Date | null {
  if (triggers.some((t) => t.endedAt === null)) return null;
  return new Date(Math.max(...triggers.map((t) => t.endedAt!.getTime())));
}
