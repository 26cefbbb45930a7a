"use client";
/**
 * Dead letters on the Overview: the messages and jobs the runtime gave up on, each with its
 * reason, trace id and time. Everyone reads them; an operator or admin puts one back on the
 * queue (the server checks the role and audits the retry).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { errorText } from "../skills/error-text.ts";
import { useTRPC } from "~/trpc/react.tsx";

const SOURCES = { INGRESS: "not storable at ingress", INBOUND_JOB: "message job given up" } as const;

export function DeadLettersCard({ canRetry }: { canRetry: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useInlineStatus();
  const { data, error, refetch } = useQuery({ ...trpc.deadLetter.list.queryOptions(), refetchInterval: 5_000 });
  const retry = useMutation(
    trpc.deadLetter.retry.mutationOptions({
      onSuccess: (r) => status.success(`Dead letter ${r.id} retried: its message is back on the queue.`),
      onError: (e) => status.error(errorText(e)),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.deadLetter.pathKey() }),
    }),
  );

  return (
    <section
      aria-labelledby="ov-dead-letters"
      className="min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
      data-testid="dead-letters"
    >
      <div className="mb-3 flex items-baseline justify-between gap-2">
        <h2 id="ov-dead-letters" className="text-sm font-semibold text-slate-900">
          Dead letters
        </h2>
        {data && <span className="text-sm text-slate-600 tabular-nums">{data.open} open</span>}
      </div>
      <InlineStatus status={status.current} onDismiss={status.clear} />
      {error && !data ? (
        <ErrorState title="The dead letters could not be loaded." error={error} onRetry={refetch} />
      ) : !data ? (
        <p className="text-sm text-slate-600">Loading…</p>
      ) : data.items.length === 0 ? (
        <p className="text-sm text-slate-600">None: every message was stored and answered.</p>
      ) : (
        <ul className="divide-y divide-slate-100 text-sm">
          {data.items.map((d) => (
            <li key={d.id} className="flex flex-wrap items-start justify-between gap-2 py-2">
              <div className="min-w-0 space-y-0.5">
                <p className="font-medium text-slate-900">
                  {SOURCES[d.source]} · {formatDateTime(d.createdAt)}
                </p>
                <p className="break-words text-slate-700">
                  {d.errorCode && <code className="mr-1 font-mono">[{d.errorCode}]</code>}
                  {d.reason}
                </p>
                <p className="text-xs text-slate-500">
                  trace <code className="font-mono">{d.traceId}</code> · attempts {d.attempts} · id{" "}
                  <code className="font-mono">{d.id}</code>
                </p>
              </div>
              {canRetry && (
                <button
                  type="button"
                  className="rounded-md border border-slate-300 px-2.5 py-1 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50"
                  disabled={retry.isPending}
                  onClick={() => retry.mutate({ id: d.id })}
                >
                  Retry
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
