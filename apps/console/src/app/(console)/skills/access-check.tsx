"use client";
/**
 * "Can user X in conversation Y use skill Z, and why?" The server loads a fresh policy snapshot
 * with the runtime's loader and runs the runtime's `decide`: the answer is what the robot would
 * do right now, with every reason in words.
 */
import { useQuery } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { SubjectInput } from "~/components/subject-input.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "./error-text.ts";

const OUTCOME = {
  allow: { label: "Allowed", style: "bg-emerald-50 text-emerald-800 ring-emerald-600/30" },
  needs_approval: { label: "Allowed after approval", style: "bg-amber-50 text-amber-800 ring-amber-600/30" },
  deny: { label: "Denied", style: "bg-red-50 text-red-800 ring-red-600/30" },
} as const;

const input = "mt-1 w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm";

export function AccessCheck({ skillKey, skillKeys }: { skillKey?: string; skillKeys?: string[] }) {
  const trpc = useTRPC();
  const id = useId();
  const [skill, setSkill] = useState(skillKey ?? skillKeys?.[0] ?? "");
  const [conversationId, setConversationId] = useState("");
  const [userId, setUserId] = useState("");
  // "After untrusted content": as if the turn had already read an untrusted tool's output.
  const [afterUntrusted, setAfterUntrusted] = useState(false);
  const [asked, setAsked] = useState<{
    skillKey: string;
    conversationId: string;
    userId: string;
    afterUntrusted?: string;
  } | null>(null);
  const answer = useQuery({
    ...trpc.skill.check.queryOptions(asked ?? { skillKey: "", conversationId: "", userId: "" }),
    enabled: asked !== null,
    staleTime: 0,
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const next = {
      skillKey: skillKey ?? skill,
      conversationId: conversationId.trim(),
      userId: userId.trim(),
      ...(afterUntrusted ? { afterUntrusted: "an untrusted tool's output" } : {}),
    };
    // The same question again asks the server again (the policy may have changed since).
    if (asked && JSON.stringify(asked) === JSON.stringify(next)) void answer.refetch();
    else setAsked(next);
  }

  return (
    <section aria-labelledby={`${id}-title`} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <h2 id={`${id}-title`} className="text-base font-semibold">
        Can this user use {skillKey ? <code className="font-mono">{skillKey}</code> : "a skill"} here? And why?
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        Decided like the runtime does, on the policy as it is now. Budgets and rate limits are checked per request and
        are not included.
      </p>
      <form
        onSubmit={submit}
        className={`mt-3 grid gap-3 sm:items-start ${skillKey ? "sm:grid-cols-[repeat(2,minmax(0,1fr))_auto]" : "sm:grid-cols-[repeat(3,minmax(0,1fr))_auto]"}`}
      >
        {!skillKey && (
          <div>
            <label htmlFor={`${id}-skill`} className="block text-sm font-medium text-slate-700">
              Skill
            </label>
            <select id={`${id}-skill`} value={skill} onChange={(e) => setSkill(e.target.value)} className={input}>
              {(skillKeys ?? []).map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </div>
        )}
        <div>
          <label htmlFor={`${id}-conversation`} className="block text-sm font-medium text-slate-700">
            Conversation id
          </label>
          <SubjectInput
            kind="CONVERSATION"
            id={`${id}-conversation`}
            value={conversationId}
            onChange={setConversationId}
            required
            placeholder="name or cid-…"
            className={input}
          />
        </div>
        <div>
          <label htmlFor={`${id}-user`} className="block text-sm font-medium text-slate-700">
            User (DingTalk id)
          </label>
          <SubjectInput
            kind="USER"
            id={`${id}-user`}
            value={userId}
            onChange={setUserId}
            required
            placeholder="name or staffId"
            className={input}
          />
        </div>
        <button
          type="submit"
          className="justify-self-start rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold whitespace-nowrap text-white hover:bg-indigo-500 disabled:opacity-50 sm:mt-6"
          disabled={answer.isFetching}
        >
          {answer.isFetching ? "Checking…" : "Check access"}
        </button>
        <label className="flex items-center gap-2 text-sm text-slate-700 sm:col-span-4">
          <input type="checkbox" checked={afterUntrusted} onChange={(e) => setAfterUntrusted(e.target.checked)} />
          after the turn has read untrusted content (an MCP or HTTP tool, http.fetch)
        </label>
      </form>

      <div aria-live="polite" className="mt-4">
        {asked && answer.error && (
          <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
            The check failed: {errorText(answer.error)}
          </p>
        )}
        {asked && answer.data && (
          <div data-testid="access-answer" className="space-y-3">
            <p className="flex flex-wrap items-center gap-2 text-sm">
              <span
                className={`inline-flex rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${OUTCOME[answer.data.outcome].style}`}
              >
                {OUTCOME[answer.data.outcome].label}
              </span>
              <span className="font-medium text-slate-900">{answer.data.summary}</span>
            </p>
            {answer.data.reasons.length > 0 && (
              <ul className="space-y-2 text-sm" aria-label="Why">
                {answer.data.reasons.map((r) => (
                  <li key={r.code} data-reason={r.code} className="rounded-md bg-slate-50 px-3 py-2 text-slate-900">
                    {r.explanation}
                  </li>
                ))}
              </ul>
            )}
            <p className="text-sm text-slate-700" data-testid="access-in-chat">
              <span className="font-medium">In the chat: </span>
              {answer.data.inChat}
            </p>
            <p className="text-xs text-slate-500">
              Policy at config revision {answer.data.revision}, {formatDateTime(answer.data.at)}. Conversation:{" "}
              {answer.data.facts.conversation.known
                ? `${answer.data.facts.conversation.status?.toLowerCase()}, ${answer.data.facts.conversation.environment}`
                : "never seen"}
              . Safe mode: {answer.data.facts.safeMode ?? "off"}.
            </p>
          </div>
        )}
      </div>
    </section>
  );
}
