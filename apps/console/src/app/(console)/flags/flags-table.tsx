"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { savedText } from "~/components/ui/format.ts";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { DataTable, td } from "~/components/ui/table.tsx";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "../skills/error-text.ts";
import { Switch } from "../skills/switch.tsx";

const field = "mt-1 w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm";
// Mirrors core's FLAG_KEY_PATTERN for instant feedback; the server checks again.
const KEY_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

interface Flag {
  key: string;
  description: string;
  enabled: boolean;
  updatedAt: Date;
  gates: string[];
}

export function FlagsTable({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const { data, error, isPending, refetch } = useQuery(trpc.flag.list.queryOptions());
  const status = useInlineStatus();
  const [search, setSearch] = useState("");
  const [confirmOff, setConfirmOff] = useState<Flag | null>(null);

  const toggle = useMutation(
    trpc.flag.toggle.mutationOptions({
      onMutate: async (input) => {
        const key = trpc.flag.list.queryKey();
        await qc.cancelQueries({ queryKey: key });
        const previous = qc.getQueryData(key);
        qc.setQueryData(key, (old) => old?.map((f) => (f.key === input.key ? { ...f, enabled: input.enabled } : f)));
        return { previous, key };
      },
      onError: (e, input, context) => {
        if (context) qc.setQueryData(context.key, context.previous);
        status.error(`${input.key} was not changed: ${errorText(e)}`);
      },
      onSuccess: (r) => status.success(savedText(r)),
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.flag.list.queryKey() }),
    }),
  );

  if (isPending) return <LoadingState label="Loading flags…" />;
  if (error) return <ErrorState title="The flags could not be loaded." error={error} onRetry={refetch} />;

  const q = search.trim().toLowerCase();
  const shown = data.filter((f) => !q || f.key.includes(q) || f.description.toLowerCase().includes(q));
  // Turning off a flag that gates skills takes them away from the robot: ask first.
  const onChange = (flag: Flag, next: boolean) =>
    !next && flag.gates.length > 0 ? setConfirmOff(flag) : toggle.mutate({ key: flag.key, enabled: next });

  return (
    <div className="space-y-4">
      <InlineStatus status={status.current} onDismiss={status.clear} />
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
      {data.length === 0 ? (
        <EmptyState title="No flags yet">
          {canEdit ? "Create the first one below." : "An admin can create them."}
        </EmptyState>
      ) : shown.length === 0 ? (
        <EmptyState
          title="No flag matches the search"
          action={
            <button
              type="button"
              onClick={() => setSearch("")}
              className="rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
            >
              Clear search
            </button>
          }
        />
      ) : (
        <DataTable
          caption={
            <>
              {data.length} flags, {data.filter((f) => f.enabled).length} on
              {shown.length !== data.length && `; ${shown.length} shown`}
            </>
          }
          columns={["Flag", "State", "Skills it gates", "Changed"]}
        >
          {shown.map((f) => (
            <tr key={f.key} className="hover:bg-slate-50">
              <th scope="row" className={`${td} min-w-56 text-left font-normal`}>
                <code className="font-mono font-semibold text-slate-900">{f.key}</code>
                <p className="mt-0.5 max-w-md text-slate-600">{f.description}</p>
              </th>
              <td className={td}>
                <span className="inline-flex items-center gap-2 whitespace-nowrap">
                  {canEdit && (
                    <Switch checked={f.enabled} label={`Flag ${f.key}`} onChange={(next) => onChange(f, next)} />
                  )}
                  <span className={f.enabled ? "font-medium text-emerald-800" : "text-slate-500"}>
                    {f.enabled ? "On" : "Off"}
                  </span>
                </span>
              </td>
              <td className={`${td} text-slate-700`}>
                {f.key === "agent.tools" ? (
                  "every skill"
                ) : f.gates.length > 0 ? (
                  f.gates.map((k) => (
                    <code key={k} className="mr-2 font-mono">
                      {k}
                    </code>
                  ))
                ) : (
                  <span className="text-slate-400">none</span>
                )}
              </td>
              <td className={`${td} whitespace-nowrap text-slate-600`}>{formatDateTime(f.updatedAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
      {canEdit && <CreateFlag status={status} existing={data.map((f) => f.key)} />}
      <ConfirmDialog
        open={confirmOff !== null}
        onOpenChange={(open) => !open && setConfirmOff(null)}
        variant="danger"
        title={`Turn off ${confirmOff?.key ?? "the flag"}?`}
        description={
          confirmOff?.key === "agent.tools"
            ? "The robot stops calling every skill (it still answers with the model alone) until the flag is on again."
            : `These skills stop running while it is off: ${confirmOff?.gates.join(", ") ?? ""}.`
        }
        confirmLabel="Turn off"
        onConfirm={() => confirmOff && toggle.mutate({ key: confirmOff.key, enabled: false })}
      />
    </div>
  );
}

function CreateFlag({ status, existing }: { status: ReturnType<typeof useInlineStatus>; existing: string[] }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const [key, setKey] = useState("");
  const [description, setDescription] = useState("");
  const [enabled, setEnabled] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation(
    trpc.flag.create.mutationOptions({
      onSuccess: (r) => {
        status.success(savedText(r));
        setKey("");
        setDescription("");
        setEnabled(false);
        setProblem(null);
      },
      onError: (e) => setProblem(errorText(e)),
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.flag.list.queryKey() }),
    }),
  );
  const k = key.trim();
  const keyProblem = !k
    ? null
    : !KEY_PATTERN.test(k)
      ? "Lowercase words joined by dots, e.g. replies.markdown (letters, digits, _)."
      : existing.includes(k)
        ? "This flag exists already."
        : null;

  function submit(e: FormEvent) {
    e.preventDefault();
    if (keyProblem) return;
    create.mutate({ key: k, description: description.trim(), enabled });
  }

  return (
    <form
      onSubmit={submit}
      aria-labelledby={`${id}-title`}
      className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
    >
      <h2 id={`${id}-title`} className="text-base font-semibold">
        New flag
      </h2>
      <div className="mt-3 grid gap-3 sm:grid-cols-[minmax(0,1fr)_minmax(0,2fr)_auto] sm:items-start">
        <div>
          <label htmlFor={`${id}-key`} className="block text-sm font-medium text-slate-700">
            Key
          </label>
          <input
            id={`${id}-key`}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            required
            maxLength={64}
            placeholder="replies.cards"
            autoComplete="off"
            aria-invalid={keyProblem ? true : undefined}
            aria-describedby={`${id}-key-help`}
            className={`${field} font-mono`}
          />
          <p id={`${id}-key-help`} className={`mt-1 text-xs ${keyProblem ? "text-red-700" : "text-slate-500"}`}>
            {keyProblem ?? "Lowercase, dotted: area.name"}
          </p>
        </div>
        <div>
          <label htmlFor={`${id}-description`} className="block text-sm font-medium text-slate-700">
            Description
          </label>
          <input
            id={`${id}-description`}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            required
            maxLength={300}
            placeholder="What it switches"
            autoComplete="off"
            className={field}
          />
        </div>
        <label className="mt-7 inline-flex items-center gap-2 text-sm text-slate-700">
          <input
            type="checkbox"
            checked={enabled}
            onChange={(e) => setEnabled(e.target.checked)}
            className="size-4 accent-indigo-600"
          />
          Start on
        </label>
      </div>
      {problem && (
        <p role="alert" className="mt-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
          The flag was not created: {problem}
        </p>
      )}
      <div className="mt-3 flex justify-end">
        <button
          type="submit"
          data-mutates
          disabled={create.isPending || !!keyProblem}
          className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-50"
        >
          {create.isPending ? "Creating…" : "Create flag"}
        </button>
      </div>
    </form>
  );
}
