/**
 * `clawgate safe-mode on|off|status --reason R [--ttl 2h] [--level read-only|maintenance] [--message M]`:
 * the break-glass switch for when the console is down. It writes the database directly (state,
 * history, audit entry as a CLI actor, config revision) in one transaction; every runtime reloads
 * on the revision's NOTIFY.
 */
import { hostname, userInfo } from "node:os";
import type { Actor } from "@clawgate/core";
import { isDomainError } from "@clawgate/core/errors.ts";
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";

export interface SafeModeOptions {
  reason?: string;
  ttl?: string;
  level?: string;
  message?: string;
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

const usage = (message: string): number => {
  console.error(`clawgate safe-mode: ${message}`);
  return 2;
};

export async function safeMode(state: string, opts: SafeModeOptions): Promise<number> {
  if (state !== "on" && state !== "off" && state !== "status")
    return usage(`expected on, off or status, got "${state}"`);
  // Loaded on demand: the other commands do not pay for the domain package.
  const { parseDuration, safeModeStatus, setSafeMode } = await import("@clawgate/core/safe-mode.ts");

  let input: Parameters<typeof setSafeMode>[2] | undefined;
  if (state !== "status") {
    if (!opts.reason?.trim())
      return usage("--reason is required: say why (it goes into the history and the audit log)");
    if (state === "off" && (opts.ttl !== undefined || opts.level !== undefined || opts.message !== undefined)) {
      return usage("--ttl, --level and --message only apply to `safe-mode on`");
    }
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
    input = { active: state === "on", reason: opts.reason, level, ttlMs, message: opts.message };
  }

  const env = envOrExit(["DATABASE_URL"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    if (!input) {
      const status = await safeModeStatus(db);
      const ev = status.event;
      if (status.expired && ev?.expiresAt)
        console.log(`Safe mode ${status.level} expired at ${ev.expiresAt.toISOString()} (counts as off).`);
      else if (!status.active) console.log("Safe mode is off.");
      else {
        console.log(
          `Safe mode is ON: ${status.level}${ev?.expiresAt ? ` until ${ev.expiresAt.toISOString()}` : " (no expiry)"}`,
        );
        if (ev) console.log(`  since ${ev.startedAt.toISOString()} by ${ev.actorName}: ${ev.reason}`);
        if (status.message) console.log(`  message: ${status.message}`);
      }
      return 0;
    }
    const r = await setSafeMode(db, cliActor(), input);
    if (!r.active) console.log(`Safe mode is off (config revision ${r.revision}).`);
    else {
      const until = r.expiresAt
        ? ` until ${r.expiresAt.toISOString()}`
        : " (no expiry: turn it off with `clawgate safe-mode off`)";
      console.log(
        `Safe mode ${r.kind === "update" ? "updated" : "is on"}: ${r.level}${until} (config revision ${r.revision}).`,
      );
    }
    return 0;
  } catch (error) {
    return commandFailed("safe-mode", error);
  } finally {
    await db.$disconnect();
  }
}
