"use client";
/**
 * A skill's settings, for any skill: the fields its manifest declares (name, type, default,
 * description) and the stored JSON. Admins edit the JSON; the server validates it with the
 * skill's own schema and every problem is listed. Other roles read it.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { savedText } from "~/components/ui/format.ts";
import type { useInlineStatus } from "~/components/ui/inline-status.tsx";
import { btnPrimary } from "~/components/ui/styles.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "../error-text.ts";

interface SettingField {
  name: string;
  type: string;
  description?: string;
  default?: unknown;
  required: boolean;
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

export function SkillSettings({
  skillKey,
  settings,
  fields,
  canEdit,
  status,
}: {
  skillKey: string;
  settings: Record<string, unknown>;
  fields: SettingField[];
  canEdit: boolean;
  status: ReturnType<typeof useInlineStatus>;
}) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const id = useId();
  const [text, setText] = useState(() => pretty(settings));
  const [problems, setProblems] = useState<string[]>([]);
  const save = useMutation(
    trpc.skill.updateSettings.mutationOptions({
      onSuccess: (r) => {
        status.success(savedText(r));
        setText(pretty(r.settings));
        setProblems([]);
      },
      onError: (e) => setProblems(errorText(e).split("\n")),
      onSettled: () => qc.invalidateQueries({ queryKey: trpc.skill.get.queryKey({ key: skillKey }) }),
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      setProblems([`not valid JSON: ${(error as Error).message}`]);
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      setProblems(["settings must be a JSON object ({ … })"]);
      return;
    }
    save.mutate({ key: skillKey, settings: value as Record<string, unknown> });
  }

  return (
    <section aria-labelledby={`${id}-title`} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <h2 id={`${id}-title`} className="text-base font-semibold">
        Skill settings
      </h2>
      {fields.length === 0 ? (
        <p className="mt-1 text-sm text-slate-600">This skill has no settings of its own.</p>
      ) : (
        <dl className="mt-3 space-y-2 text-sm">
          {fields.map((f) => (
            <div key={f.name}>
              <dt className="font-mono font-medium text-slate-800">
                {f.name}
                <span className="ml-2 font-sans text-xs font-normal text-slate-500">
                  {f.type}
                  {f.required ? ", required" : ""}
                  {f.default !== undefined ? `, default ${JSON.stringify(f.default)}` : ""}
                </span>
              </dt>
              {f.description && <dd className="text-slate-600">{f.description}</dd>}
            </div>
          ))}
        </dl>
      )}
      {canEdit ? (
        <form onSubmit={submit} className="mt-4">
          <label htmlFor={`${id}-json`} className="block text-sm font-medium text-slate-700">
            Settings (JSON)
          </label>
          <textarea
            id={`${id}-json`}
            value={text}
            onChange={(e) => setText(e.target.value)}
            rows={Math.min(16, Math.max(4, text.split("\n").length + 1))}
            spellCheck={false}
            className="mt-1 w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-sm"
          />
          {problems.length > 0 && (
            <div role="alert" className="mt-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
              <p>The settings were not saved:</p>
              <ul className="mt-1 list-disc pl-5">
                {problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            </div>
          )}
          <div className="mt-3 flex justify-end">
            <button type="submit" data-mutates disabled={save.isPending} className={btnPrimary}>
              {save.isPending ? "Saving…" : "Save settings"}
            </button>
          </div>
        </form>
      ) : (
        <pre
          aria-label="Settings (JSON)"
          className="mt-4 overflow-x-auto rounded-md bg-slate-50 px-3 py-2 font-mono text-sm text-slate-800"
        >
          {pretty(settings)}
        </pre>
      )}
    </section>
  );
}
