/**
 * `clawgate safe-mode on|off|status`, `clawgate kill-switch on|off`: the break-glass switches for
 * when the console is down. They write the database directly (activation, incident, ops-chat
 * notice, audit entry as a CLI actor, config revision) in one transaction, through the same core
 * functions as the console; every runtime reloads on the revision's NOTIFY.
 *
 *   safe-mode on --reason R [--scope conversation:ID|skill:KEY|risk:WRITE ...] [--level read-only|maintenance]
 *                [--ttl 2h] [--message M] [--id ID]
 *   safe-mode off [ID | --all] --reason R
 *   safe-mode status
 *   kill-switch on|off --reason R
 */
import { hostname, userInfo } from "node:os";
import type { Actor } from "@clawgate/core";
import { isDomainError } from "@clawgate/core/errors.ts";
import type { safeModeStatus as safeModeStatusFn } from "@clawgate/core/safe-mode.ts";
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";

export interface SafeModeOptions {
  reason?: string;
  ttl?: string;
  level?: string;
  message?: string;
  scope?: string[];
  all?: boolean;
  id?: string;
}

const LEVELS: Record<string, "READ_ONLY" | "MAINTENANCE"> = { "read-only": "READ_ONLY", maintenance: "MAINTENANCE" };

/** The CLI actor: the OS account and host the command ran on (no console session exists). */
export function cliActor(command = "safe-mode"): Actor {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  const id = `${user}@${hostname()}`;
  return { type: "CLI", id, name: `clawgate ${command} (${id})` };
}

const usage = (message: string, command = "safe-mode"): number => {
  console.error(`clawgate ${command}: ${message}`);
  return 2;
};

type Status = Awaited<ReturnType<typeof safeModeStatusFn>>;
type Activation = Status["activations"][number];

const scopeText = (scopes: readonly string[]) => (scopes.length ? scopes.join(", ") : "everything");

function printActivation(a: Activation): void {
  const until = a.expiresAt ? ` until ${a.expiresAt.toISOString()}` : " (no expiry)";
  console.log(`  ${a.id}  ${a.level} on ${scopeText(a.scopes)}${until}`);
  console.log(`    since ${a.startedAt.toISOString()} by ${a.actorName}: ${a.reason}`);
  if (a.message) console.log(`    message: ${a.message}`);
}

export async function safeMode(state: string, opts: SafeModeOptions, target?: string): Promise<number> {
  if (state !== "on" && state !== "off" && state !== "status")
    return usage(`expected on, off or status, got "${state}"`);
  // Loaded on demand: the other commands do not pay for the domain package.
  const { parseDuration, safeModeStatus, setSafeMode } = await import("@clawgate/core/safe-mode.ts");

  let input: Parameters<typeof setSafeMode>[2] | undefined;
  if (state !== "status") {
    if (!opts.reason?.trim())
      return usage("--reason is required: say why (it goes into the history and the audit log)");
    if (
      state === "off" &&
      (opts.ttl !== undefined || opts.level !== undefined || opts.message !== undefined || opts.scope?.length)
    ) {
      return usage("--scope, --ttl, --level and --message only apply to `safe-mode on`");
    }
    if (state === "on" && (opts.all || target !== undefined))
      return usage("an activation id and --all only apply to `safe-mode off` (use --id to update one)");
    if (state === "off" && opts.all && target !== undefined) return usage("name one activation or --all, not both");
    let level: "READ_ONLY" | "MAINTENANCE" | undefined;
    if (opts.level !== undefined) {
      level = LEVELS[opts.level.toLowerCase()];
      if (!level) return usage(`--level must be read-only or maintenance, got "${opts.level}"`);
    }
    let ttlMs: number | undefined;
    if (opts.ttl !== undefined) {
      try {
        ttlMs = parseDuration(opts.ttl);
      } catch (error) {
        if (!isDomainError(error)) throw error;
        return usage(`--ttl ${error.message}`);
      }
    }
    input =
      state === "on"
        ? {
            active: true,
            reason: opts.reason,
            level,
            ttlMs,
            message: opts.message,
            ...(opts.scope?.length ? { scopes: opts.scope } : {}),
            ...(opts.id ? { id: opts.id } : {}),
          }
        : { active: false, reason: opts.reason, ...(opts.all ? { all: true } : {}), ...(target ? { id: target } : {}) };
  }

  const env = envOrExit(["DATABASE_URL"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    if (!input) {
      const status = await safeModeStatus(db);
      if (status.killSwitch)
        console.log(
          `Kill switch is ON since ${status.killSwitch.startedAt.toISOString()} by ${status.killSwitch.actorName}: ${status.killSwitch.reason}`,
        );
      if (!status.active) console.log("Safe mode is off.");
      else {
        console.log(`Safe mode is ON: ${status.level} (${status.activations.length} activation(s) in force)`);
        for (const a of status.activations) printActivation(a);
      }
      return 0;
    }
    const r = await setSafeMode(db, cliActor(), input);
    if (r.kind === "off") {
      console.log(
        `Safe mode ${r.active ? `activation(s) ${r.eventIds.join(", ")} ended; others stay in force` : "is off"} (config revision ${r.revision}).`,
      );
    } else {
      const until = r.expiresAt
        ? ` until ${r.expiresAt.toISOString()}`
        : " (no expiry: turn it off with `clawgate safe-mode off`)";
      console.log(
        `Safe mode ${r.kind === "update" ? "updated" : "is on"}: ${r.level} on ${scopeText(r.scopes)}${until} (activation ${r.eventId}, config revision ${r.revision}).`,
      );
    }
    return 0;
  } catch (error) {
    return commandFailed("safe-mode", error);
  } finally {
    await db.$disconnect();
  }
}

/** `clawgate kill-switch on|off --reason R`: every WRITE and DESTRUCTIVE skill withdrawn, or back as it was. */
export async function killSwitch(state: string, opts: { reason?: string }): Promise<number> {
  if (state !== "on" && state !== "off") return usage(`expected on or off, got "${state}"`, "kill-switch");
  if (!opts.reason?.trim())
    return usage("--reason is required: say why (it goes into the history and the audit log)", "kill-switch");
  const { setKillSwitch } = await import("@clawgate/core/safe-mode.ts");
  const env = envOrExit(["DATABASE_URL"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    const r = await setKillSwitch(db, cliActor("kill-switch"), { active: state === "on", reason: opts.reason });
    console.log(
      r.active
        ? `Kill switch is on: every WRITE and DESTRUCTIVE skill is withdrawn (config revision ${r.revision}).`
        : `Kill switch is off: skills are back as they were (config revision ${r.revision}).`,
    );
    return 0;
  } catch (error) {
    return commandFailed("kill-switch", error);
  } finally {
    await db.$disconnect();
  }
}
