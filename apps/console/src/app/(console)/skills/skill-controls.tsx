"use client";
/**
 * The settings of one skill as controls (ADMIN) or as read-only indicators (everyone else):
 * enabled (disabling asks first), approval (only where decide honours it: WRITE skills) and
 * environments. Shared by the table and the detail view.
 */
import { useState } from "react";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import type { SkillListItem } from "~/server/api/routers/skill.ts";
import { Switch } from "./switch.tsx";
import type { useSkillUpdate } from "./use-skill-update.ts";

type Skill = Pick<SkillListItem, "key" | "riskClass" | "enabled" | "requiresApproval" | "environments"> &
  Partial<Pick<SkillListItem, "withdrawnBy">>;

const WITHDRAWN: Record<NonNullable<SkillListItem["withdrawnBy"]>, string> = {
  kill_switch: "Withdrawn by kill switch",
  safe_mode: "Withdrawn by safe mode",
  safe_mode_some: "Withdrawn by safe mode in some conversations",
};

/** The skill's effective state when safe mode or the kill switch withdraws it (its own setting comes back after). */
function Withdrawn({ skill }: { skill: Skill }) {
  if (!skill.withdrawnBy || !skill.enabled) return null;
  return (
    <span
      data-testid="skill-withdrawn"
      className="mt-1 block whitespace-nowrap text-xs font-semibold text-red-800"
      title="Its own setting stays as it is and applies again when safe mode or the kill switch ends."
    >
      {WITHDRAWN[skill.withdrawnBy]}
    </span>
  );
}
type Update = ReturnType<typeof useSkillUpdate>;
const ENVIRONMENTS = ["TEST", "PROD"] as const;

function Indicator({ on, label, tone }: { on: boolean; label: string; tone: "good" | "warn" }) {
  const dot = on ? (tone === "good" ? "bg-emerald-500" : "bg-amber-500") : "bg-slate-300";
  return (
    <span className={`inline-flex items-center gap-1.5 whitespace-nowrap ${on ? "text-slate-900" : "text-slate-500"}`}>
      <span aria-hidden className={`size-2 shrink-0 rounded-full ${dot}`} />
      {label}
    </span>
  );
}

export function EnabledControl({ skill, canEdit, update }: { skill: Skill; canEdit: boolean; update: Update }) {
  const [confirming, setConfirming] = useState(false);
  const withdrawn = skill.enabled && skill.withdrawnBy && skill.withdrawnBy !== "safe_mode_some";
  const label = withdrawn ? WITHDRAWN[skill.withdrawnBy!] : skill.enabled ? "Enabled" : "Disabled";
  if (!canEdit)
    return (
      <>
        <span data-testid={withdrawn ? "skill-withdrawn" : undefined}>
          <Indicator on={skill.enabled && !withdrawn} tone="good" label={label} />
        </span>
        {skill.withdrawnBy === "safe_mode_some" && <Withdrawn skill={skill} />}
      </>
    );
  // The dialog sits outside the nowrap span: its text must wrap.
  return (
    <>
      <span className="inline-flex items-center gap-2 whitespace-nowrap">
        <Switch
          checked={skill.enabled}
          label={`Enabled: ${skill.key}`}
          onChange={(next) => (next ? update.mutate({ key: skill.key, enabled: true }) : setConfirming(true))}
        />
        <span
          className={withdrawn ? "font-semibold text-red-800" : skill.enabled ? "text-slate-900" : "text-slate-500"}
          data-testid={withdrawn ? "skill-withdrawn" : undefined}
        >
          {label}
        </span>
      </span>
      {skill.withdrawnBy === "safe_mode_some" && <Withdrawn skill={skill} />}
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        variant="danger"
        title={`Disable ${skill.key}?`}
        description={
          <>
            The robot stops offering <code className="font-mono">{skill.key}</code> in every conversation as soon as the
            runtimes reload (about a second). Calls waiting for approval stay pending.
          </>
        }
        confirmLabel="Disable"
        onConfirm={() => update.mutate({ key: skill.key, enabled: false })}
      />
    </>
  );
}

export function ApprovalControl({ skill, canEdit, update }: { skill: Skill; canEdit: boolean; update: Update }) {
  if (skill.riskClass === "READ") return <span className="whitespace-nowrap text-slate-500">Never (read-only)</span>;
  if (skill.riskClass === "DESTRUCTIVE") return <Indicator on tone="warn" label="Always (destructive)" />;
  const label = skill.requiresApproval ? "Required" : "Not required";
  if (!canEdit) return <Indicator on={skill.requiresApproval} tone="warn" label={label} />;
  return (
    <span className="inline-flex items-center gap-2 whitespace-nowrap">
      <Switch
        checked={skill.requiresApproval}
        tone="warn"
        label={`Requires approval: ${skill.key}`}
        onChange={(next) => update.mutate({ key: skill.key, requiresApproval: next })}
      />
      <span className={skill.requiresApproval ? "text-slate-900" : "text-slate-500"}>{label}</span>
    </span>
  );
}

export function EnvironmentsControl({ skill, canEdit, update }: { skill: Skill; canEdit: boolean; update: Update }) {
  if (!canEdit)
    return <span className="whitespace-nowrap text-slate-700">{skill.environments.join(", ") || "none"}</span>;
  return (
    <fieldset className="flex gap-3 whitespace-nowrap">
      <legend className="sr-only">Environments of {skill.key}</legend>
      {ENVIRONMENTS.map((env) => {
        const checked = skill.environments.includes(env);
        // The last environment cannot be unticked: disabling the skill is the way to stop it everywhere.
        const last = checked && skill.environments.length === 1;
        return (
          <label
            key={env}
            className={`inline-flex items-center gap-1.5 ${last ? "text-slate-500" : "text-slate-800"}`}
            title={last ? "A skill needs at least one environment; disable it instead" : undefined}
          >
            <input
              type="checkbox"
              data-mutates
              className="size-4 rounded border-slate-300 accent-indigo-600"
              checked={checked}
              disabled={last}
              aria-label={`${env} environment: ${skill.key}`}
              onChange={(e) =>
                update.mutate({
                  key: skill.key,
                  environments: e.target.checked
                    ? [...skill.environments, env]
                    : skill.environments.filter((x) => x !== env),
                })
              }
            />
            {env}
          </label>
        );
      })}
    </fieldset>
  );
}
