"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime, savedText } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "../skills/error-text.ts";

type Kind = "messages" | "memory" | "invocations" | "outbound" | "audit";
const LABELS: Record<Kind, string> = {
  messages: "Messages",
  memory: "Conversation memory",
  invocations: "Skill invocations",
  outbound: "Replies",
  audit: "Audit log",
};

export function RetentionForm({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const { data, error, isPending, refetch } = useQuery(trpc.retention.get.queryOptions());
  const status = useInlineStatus();
  // The form's text per kind ("" = keep forever); null until edited.
  const [draft, setDraft] = useState<Record<Kind, string> | null>(null);
  const save = useMutation(
    trpc.retention.set.mutationOptions({
      onError: (e) => status.error(`Retention was not changed: ${errorText(e)}`),
      onSuccess: (r) => {
        status.success(savedText(r));
        setDraft(null);
      },
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.retention.get.queryKey() }),
    }),
  );

  if (isPending) return <LoadingState label="Loading retention…" />;
  if (error) return <ErrorState title="Retention could not be loaded." error={error} onRetry={refetch} />;

  const current = Object.fromEntries(
    data.kinds.map(({ kind }) => [kind, data.periods[kind] === null ? "" : String(data.periods[kind])]),
  ) as Record<Kind, string>;
  const values = draft ?? current;
  const problems = data.kinds
    .map(({ kind }) => {
      const v = values[kind].trim();
      if (v === "") return null;
      const n = Number(v);
      return Number.isInteger(n) && n >= 1 && n <= 36_500
        ? null
        : `${LABELS[kind]}: a whole number of days from 1 to 36500, or empty to keep forever`;
    })
    .filter((p): p is string => p !== null);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (problems.length > 0) return status.error(problems.join("; "));
    const input = Object.fromEntries(
      data.kinds.map(({ kind }) => [kind, values[kind].trim() === "" ? null : Number(values[kind])]),
    ) as Record<Kind, number | null>;
    save.mutate(input);
  };

  return (
    <form onSubmit={onSubmit} className="max-w-2xl space-y-4">
      <InlineStatus status={status.current} onDismiss={status.clear} />
      <div className="space-y-3 rounded-lg border border-slate-200 bg-white p-4">
        {data.kinds.map(({ kind, note }) => (
          <div key={kind} className="flex flex-wrap items-center gap-3">
            <label htmlFor={`${id}-${kind}`} className="w-48 text-sm font-medium text-slate-700">
              {LABELS[kind]}
            </label>
            <input
              id={`${id}-${kind}`}
              inputMode="numeric"
              value={values[kind]}
              disabled={!canEdit}
              placeholder="forever"
              aria-describedby={`${id}-${kind}-note`}
              onChange={(e) => setDraft({ ...values, [kind]: e.target.value })}
              className="w-24 rounded-md border border-slate-300 px-3 py-1.5 text-sm disabled:bg-slate-50"
            />
            <span className="text-sm text-slate-500">days</span>
            <span id={`${id}-${kind}-note`} className="basis-full text-xs text-slate-500 sm:basis-auto">
              {note}
            </span>
          </div>
        ))}
      </div>
      {canEdit ? (
        <div className="flex gap-2">
          <button
            type="submit"
            disabled={save.isPending || draft === null}
            className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-50"
          >
            {save.isPending ? "Saving…" : "Save retention"}
          </button>
          {draft && (
            <button type="button" onClick={() => setDraft(null)} className="rounded-md border px-3 py-1.5 text-sm">
              Reset
            </button>
          )}
        </div>
      ) : (
        <p className="text-sm text-slate-500">Only admins change retention.</p>
      )}
      <p className="text-sm text-slate-600">
        {data.lastRun
          ? `Last purge ${formatDateTime(data.lastRun.at)}: ${
              Object.entries(data.lastRun.counts)
                .filter(([, n]) => n > 0)
                .map(([t, n]) => `${t} ${n}`)
                .join(", ") || "nothing due"
            }.`
          : "No purge has deleted anything yet."}
      </p>
    </form>
  );
}
