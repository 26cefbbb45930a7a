"use client";
/**
 * SubjectInput: a text box for a DingTalk user or conversation id that suggests the people and
 * conversations the robot has seen (a native combobox: `<input list>` + `<datalist>`, fed by
 * `subject.seen`), each with its name, and says under the box who the typed id is, or that the
 * robot has not seen it (an id can still be entered ahead of its first message).
 *
 *   <SubjectInput kind="USER" id={`${id}-subject`} value={subject} onChange={setSubject} required />
 */
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "~/trpc/react.tsx";
import { formatDateTime, plural } from "./ui/format.ts";

export type SubjectKind = "USER" | "CONVERSATION";

export function SubjectInput(props: {
  kind: SubjectKind;
  id: string;
  value: string;
  onChange: (value: string) => void;
  className: string;
  required?: boolean;
  disabled?: boolean;
  placeholder?: string;
  maxLength?: number;
  /** More ids for aria-describedby (e.g. the field's error), besides the line naming the subject. */
  describedBy?: string;
  invalid?: boolean;
}) {
  const trpc = useTRPC();
  const seen = useQuery(trpc.subject.seen.queryOptions());
  const options =
    props.kind === "USER"
      ? (seen.data?.people ?? []).map((p) => ({
          id: p.id,
          name: p.name,
          detail: p.lastSeenAt ? `last message ${formatDateTime(p.lastSeenAt)}` : "named by a rule or budget",
        }))
      : (seen.data?.conversations ?? []).map((c) => ({
          id: c.id,
          name: c.name,
          detail: `${c.type === "GROUP" ? "group" : "one-to-one chat"}, ${c.status.toLowerCase()}, ${c.environment}`,
        }));
  const typed = props.value.trim();
  const match = options.find((o) => o.id === typed);
  const noun = props.kind === "USER" ? "person" : "conversation";
  const whoId = `${props.id}-who`;
  let who: string;
  if (props.disabled) who = "";
  else if (!typed)
    who =
      options.length > 0
        ? `Type a name or id: ${plural(options.length, noun, props.kind === "USER" ? "people" : "conversations")} the robot has seen.`
        : `The robot has not seen any ${noun} yet: enter the DingTalk id.`;
  else if (match) who = `${match.name ?? "No name known"} (${match.detail})`;
  else who = `The robot has not seen this ${noun} (yet): check the id.`;

  return (
    <>
      <input
        id={props.id}
        list={`${props.id}-options`}
        value={props.disabled ? "" : props.value}
        onChange={(e) => props.onChange(e.target.value)}
        required={props.required}
        disabled={props.disabled}
        placeholder={props.placeholder}
        maxLength={props.maxLength}
        autoComplete="off"
        aria-invalid={props.invalid || undefined}
        aria-describedby={[whoId, props.describedBy].filter(Boolean).join(" ")}
        className={props.className}
      />
      <datalist id={`${props.id}-options`}>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name ? `${o.name} · ${o.detail}` : o.detail}
          </option>
        ))}
      </datalist>
      <p
        id={whoId}
        data-testid="subject-who"
        className={`mt-1 min-h-4 text-xs ${typed && !match && !props.disabled ? "text-amber-700" : "text-slate-500"}`}
      >
        {who}
      </p>
    </>
  );
}

/** The name the robot knows for a user or conversation id (null when none): for tables and cards that show ids. */
export function useSubjectNames(): (kind: SubjectKind, id: string) => string | null {
  const trpc = useTRPC();
  const seen = useQuery(trpc.subject.seen.queryOptions());
  return (kind, id) =>
    (kind === "USER"
      ? seen.data?.people.find((p) => p.id === id)?.name
      : seen.data?.conversations.find((c) => c.id === id)?.name) ?? null;
}
