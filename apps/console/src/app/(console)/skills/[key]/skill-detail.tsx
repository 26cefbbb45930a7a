"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useState, type FormEvent } from "react";
import { RetiredBadge, RiskBadge } from "~/components/badges.tsx";
import { SubjectInput, useSubjectNames } from "~/components/subject-input.tsx";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { savedText } from "~/components/ui/format.ts";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { DataTable, td } from "~/components/ui/table.tsx";
import { Wrappable } from "~/components/ui/wrappable.tsx";
import { useTRPC } from "~/trpc/react.tsx";
import { AccessCheck } from "../access-check.tsx";
import { errorText } from "../error-text.ts";
import { ApprovalControl, EnabledControl, EnvironmentsControl } from "../skill-controls.tsx";
import { useSkillUpdate } from "../use-skill-update.ts";
import { SkillSettings } from "./skill-settings.tsx";

const field = "mt-1 w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm";
const SCOPE_HELP = {
  GLOBAL: "Everywhere. A DENY blocks the skill for everyone.",
  CONVERSATION:
    "One conversation (its DingTalk conversationId). An ALLOW here makes the skill an allowlist of conversations.",
  USER: "One user (their DingTalk staffId). An ALLOW here makes the skill an allowlist of users.",
} as const;

type Rule = {
  id: string;
  scope: "GLOBAL" | "CONVERSATION" | "USER";
  subject: string;
  effect: "ALLOW" | "DENY";
  note: string | null;
  createdAt: Date;
};

export function SkillDetail({ skillKey, canEdit }: { skillKey: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const { data: skill, error, isPending, refetch } = useQuery(trpc.skill.get.queryOptions({ key: skillKey }));
  const status = useInlineStatus();
  const update = useSkillUpdate(status);
  canEdit = canEdit && !skill?.retiredAt;

  const back = (
    <Link href="/skills" className="text-sm font-medium text-indigo-700 hover:underline">
      ← All skills
    </Link>
  );
  if (isPending) return <LoadingState label="Loading the skill…" />;
  if (error)
    return (
      <div className="space-y-4">
        {back}
        {error.data?.code === "NOT_FOUND" ? (
          <EmptyState title={`There is no skill "${skillKey}"`}>Pick one from the list of skills.</EmptyState>
        ) : (
          <ErrorState title="The skill could not be loaded." error={error} onRetry={refetch} />
        )}
      </div>
    );

  return (
    <div className="space-y-6">
      <div className="space-y-2">
        {back}
        <h1 className="flex flex-wrap items-center gap-3 text-2xl font-semibold tracking-tight">
          <code className="font-mono">{skill.key}</code>
          <RiskBadge risk={skill.riskClass} />
          {skill.retiredAt && <RetiredBadge since={skill.retiredAt} />}
        </h1>
        <p className="text-sm text-slate-600">{skill.description}</p>
        {skill.retiredAt && (
          <p className="text-sm text-slate-700">
            This skill is no longer shipped: the robot never offers or allows it. It is kept with its rules and history.
          </p>
        )}
      </div>
      <InlineStatus status={status.current} onDismiss={status.clear} />
      <section aria-labelledby="settings-title" className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
        <h2 id="settings-title" className="text-base font-semibold">
          Settings
        </h2>
        <dl className="mt-3 grid gap-4 text-sm sm:grid-cols-2 lg:grid-cols-3">
          <div>
            <dt className="font-medium text-slate-700">Status</dt>
            <dd className="mt-1">
              <EnabledControl skill={skill} canEdit={canEdit} update={update} />
            </dd>
          </div>
          <div>
            <dt className="font-medium text-slate-700">Approval</dt>
            <dd className="mt-1">
              <ApprovalControl skill={skill} canEdit={canEdit} update={update} />
            </dd>
          </div>
          <div>
            <dt className="font-medium text-slate-700">Environments</dt>
            <dd className="mt-1">
              <EnvironmentsControl skill={skill} canEdit={canEdit} update={update} />
            </dd>
          </div>
          <div>
            <dt className="font-medium text-slate-700">Timeout</dt>
            <dd className="mt-1 tabular-nums">
              {skill.timeoutMs / 1000}s{skill.cacheTtlSeconds > 0 && ` · results cached ${skill.cacheTtlSeconds}s`}
            </dd>
          </div>
          <div>
            <dt className="font-medium text-slate-700">Needs flag</dt>
            <dd className="mt-1">
              {skill.requiresFlag ? (
                <Link href="/flags" className="font-mono text-indigo-700 hover:underline">
                  {skill.requiresFlag}
                </Link>
              ) : (
                "none"
              )}{" "}
              (and <code className="font-mono">agent.tools</code>, like every skill)
            </dd>
          </div>
        </dl>
      </section>
      <SkillSettings
        key={JSON.stringify(skill.settings)}
        skillKey={skill.key}
        settings={skill.settings}
        fields={skill.settingsFields}
        canEdit={canEdit}
        status={status}
      />
      <Rules skillKey={skill.key} rules={skill.rules} canEdit={canEdit} status={status} />
      <AccessCheck skillKey={skill.key} />
    </div>
  );
}

function Rules({
  skillKey,
  rules,
  canEdit,
  status,
}: {
  skillKey: string;
  rules: Rule[];
  canEdit: boolean;
  status: ReturnType<typeof useInlineStatus>;
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [removing, setRemoving] = useState<Rule | null>(null);
  const nameOf = useSubjectNames();
  const settle = () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: trpc.skill.get.queryKey({ key: skillKey }) }),
      qc.invalidateQueries(trpc.skill.list.pathFilter()),
    ]);
  const remove = useMutation(
    trpc.skill.removeRule.mutationOptions({
      onSuccess: (r) => status.success(savedText(r)),
      onSettled: settle,
    }),
  );
  const label = (r: Pick<Rule, "scope" | "subject" | "effect">) =>
    r.scope === "GLOBAL" ? `${r.effect} everywhere` : `${r.effect} ${r.scope.toLowerCase()} ${r.subject}`;

  return (
    <section id="rules" aria-labelledby="rules-title" className="space-y-3">
      <div>
        <h2 id="rules-title" className="text-base font-semibold">
          Allow and deny rules
        </h2>
        <p className="mt-1 text-sm text-slate-600">
          A DENY at any scope wins over any ALLOW. Without ALLOW rules at a scope, everyone at that scope may use the
          skill; with one, only those listed may.
        </p>
      </div>
      {rules.length === 0 ? (
        <EmptyState title="No rules">
          The skill follows its settings alone: every enabled conversation and user may use it.
        </EmptyState>
      ) : (
        <DataTable
          caption={<>Rules of {skillKey}</>}
          captionHidden
          columns={["Effect", "Scope", "Subject", "Note", "Added", canEdit && <span className="sr-only">Actions</span>]}
        >
          {rules.map((r) => (
            <tr key={r.id}>
              <td className={td}>
                <span
                  className={`inline-flex rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${r.effect === "ALLOW" ? "bg-emerald-50 text-emerald-800 ring-emerald-600/30" : "bg-red-50 text-red-800 ring-red-600/30"}`}
                >
                  {r.effect}
                </span>
              </td>
              <td className={td}>{r.scope}</td>
              <td className={td}>
                {r.scope === "GLOBAL" ? (
                  "everyone"
                ) : (
                  <>
                    {nameOf(r.scope, r.subject) && <span className="block">{nameOf(r.scope, r.subject)}</span>}
                    <code className="font-mono text-xs text-slate-600">
                      <Wrappable text={r.subject} />
                    </code>
                  </>
                )}
              </td>
              <td className={`${td} text-slate-600`}>{r.note ?? ""}</td>
              <td className={`${td} whitespace-nowrap text-slate-600`}>{formatDateTime(r.createdAt)}</td>
              {canEdit && (
                <td className={`${td} text-right`}>
                  <button
                    type="button"
                    data-mutates
                    onClick={() => setRemoving(r)}
                    className="rounded-md px-2 py-1 text-sm font-semibold text-red-700 ring-1 ring-red-200 hover:bg-red-50"
                    aria-label={`Remove rule ${label(r)}`}
                  >
                    Remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </DataTable>
      )}
      {canEdit && <AddRule skillKey={skillKey} status={status} onAdded={settle} />}
      <ConfirmDialog
        open={removing !== null}
        onOpenChange={(open) => !open && setRemoving(null)}
        variant="danger"
        title="Remove this rule?"
        description={
          removing ? (
            <>
              The rule <strong>{label(removing)}</strong> on <code className="font-mono">{skillKey}</code> stops
              applying when the runtimes reload.
            </>
          ) : null
        }
        confirmLabel="Remove rule"
        onConfirm={async () => {
          if (!removing) return;
          try {
            await remove.mutateAsync({ id: removing.id });
          } catch (e) {
            throw new Error(errorText(e));
          }
        }}
      />
    </section>
  );
}

function AddRule({
  skillKey,
  status,
  onAdded,
}: {
  skillKey: string;
  status: ReturnType<typeof useInlineStatus>;
  onAdded: () => unknown;
}) {
  const trpc = useTRPC();
  const id = useId();
  const [scope, setScope] = useState<Rule["scope"]>("CONVERSATION");
  const [subject, setSubject] = useState("");
  const [effect, setEffect] = useState<Rule["effect"]>("DENY");
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const add = useMutation(
    trpc.skill.addRule.mutationOptions({
      onSuccess: (r) => {
        status.success(savedText(r));
        setSubject("");
        setNote("");
        setProblem(null);
      },
      onError: (e) => setProblem(errorText(e)),
      onSettled: onAdded,
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    add.mutate({
      skillKey,
      scope,
      subject: scope === "GLOBAL" ? "" : subject.trim(),
      effect,
      note: note.trim() || undefined,
    });
  }

  return (
    <form
      onSubmit={submit}
      aria-labelledby={`${id}-title`}
      className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
    >
      <h3 id={`${id}-title`} className="text-sm font-semibold">
        Add a rule
      </h3>
      <div className="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <div>
          <label htmlFor={`${id}-effect`} className="block text-sm font-medium text-slate-700">
            Effect
          </label>
          <select
            id={`${id}-effect`}
            value={effect}
            onChange={(e) => setEffect(e.target.value as Rule["effect"])}
            className={field}
          >
            <option value="DENY">DENY</option>
            <option value="ALLOW">ALLOW</option>
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-scope`} className="block text-sm font-medium text-slate-700">
            Scope
          </label>
          <select
            id={`${id}-scope`}
            value={scope}
            onChange={(e) => setScope(e.target.value as Rule["scope"])}
            aria-describedby={`${id}-scope-help`}
            className={field}
          >
            <option value="CONVERSATION">Conversation</option>
            <option value="USER">User</option>
            <option value="GLOBAL">Global</option>
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-subject`} className="block text-sm font-medium text-slate-700">
            {scope === "USER" ? "User (DingTalk staffId)" : scope === "CONVERSATION" ? "Conversation id" : "Subject"}
          </label>
          {scope === "GLOBAL" ? (
            <input id={`${id}-subject`} value="" disabled placeholder="everyone" className={field} />
          ) : (
            <SubjectInput
              kind={scope}
              id={`${id}-subject`}
              value={subject}
              onChange={setSubject}
              required
              maxLength={128}
              placeholder={scope === "USER" ? "name or staffId" : "name or cid-…"}
              className={field}
            />
          )}
        </div>
        <div>
          <label htmlFor={`${id}-note`} className="block text-sm font-medium text-slate-700">
            Note (optional)
          </label>
          <input
            id={`${id}-note`}
            value={note}
            onChange={(e) => setNote(e.target.value)}
            maxLength={200}
            autoComplete="off"
            className={field}
          />
        </div>
      </div>
      <p id={`${id}-scope-help`} className="mt-2 text-xs text-slate-500">
        {SCOPE_HELP[scope]}
      </p>
      {problem && (
        <p role="alert" className="mt-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
          The rule was not added: {problem}
        </p>
      )}
      <div className="mt-3 flex justify-end">
        <button
          type="submit"
          data-mutates
          disabled={add.isPending}
          className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-50"
        >
          {add.isPending ? "Adding…" : "Add rule"}
        </button>
      </div>
    </form>
  );
}
