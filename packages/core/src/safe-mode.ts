/**
 * Safe mode, scoped, and the kill switch. An activation has a scope (everything, chosen
 * conversations, chosen skills / risk classes: "conversation:ID", "skill:KEY", "risk:WRITE";
 * several allowed, the same kind OR'd, kinds AND'd), a level (READ_ONLY or MAINTENANCE), a reason,
 * an actor and an optional expiry. Several can be in force at once; the runtime applies the
 * strictest that matches a message (see policy/decide.ts). The kill switch is an activation of its
 * own kind that withdraws every WRITE and DESTRUCTIVE skill: it never touches the skills' own
 * `enabled`, so turning it off leaves each skill exactly as it was.
 *
 * Every switch is ONE transaction: the activation row (the history: opened on activation, closed
 * on deactivation or expiry), an incident trigger (opened or joined; ended with the activation),
 * a notice for the ops chats, an audit entry and a config revision, whose NOTIFY makes every
 * runtime replica reload its snapshot. The console, the CLI (`clawgate safe-mode`, which works
 * with the console down) and the periodic expiry sweep all call this module.
 *
 * - Turning on with the scopes of an activation in force (or naming it by `id`) updates it in
 *   place: what the call gives replaces what was set (level; a TTL counts from now, `ttlMs: null`
 *   removes the expiry; a message, "" clears it), what it leaves out is kept.
 * - An activation past its expiry counts as ended for the runtime at once (the snapshot judges it
 *   by time); `closeExpiredSafeMode` (the runtime's timer and sweep, on one replica) closes its
 *   history row as expired (ended at its expiry, by "ttl"), ends its incident trigger and tells
 *   the ops chats.
 * - Turning off names an activation (`id`), or `all`; without either it closes the only one in
 *   force. Off while nothing is in force is refused (nothing changes).
 */
import type { Db, Tx } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { DomainError } from "./errors.ts";
import { endIncidentTrigger, openOrJoinIncident } from "./incidents.ts";
import { recordConfigChange } from "./revision.ts";

export const SAFE_MODE_LEVELS = ["READ_ONLY", "MAINTENANCE"] as const;
export type SafeModeLevel = (typeof SAFE_MODE_LEVELS)[number];

export const MIN_SAFE_MODE_TTL_MS = 60_000; // 1 minute
export const MAX_SAFE_MODE_TTL_MS = 30 * 24 * 3_600_000; // 30 days

const SCOPE = /^(conversation|skill|risk):(\S.{0,199})$/;
export const safeModeScopeSchema = z
  .string()
  .trim()
  .regex(SCOPE, "a scope is conversation:ID, skill:KEY or risk:READ|WRITE|DESTRUCTIVE");

const reasonSchema = z
  .string({ error: "a reason is required" })
  .trim()
  .min(1, "a reason is required: say why (it goes into the history and the audit log)")
  .max(500, "the reason is too long (500 characters at most)");

export const safeModeInputSchema = z.object({
  active: z.boolean(),
  /** On: update this activation; off: end this activation. */
  id: z.string().min(1).max(64).optional(),
  /** Off: end every activation in force. */
  all: z.boolean().optional(),
  /** On: empty or left out, everything. */
  scopes: z.array(safeModeScopeSchema).max(50, "at most 50 scopes").optional(),
  level: z.enum(SAFE_MODE_LEVELS, { error: "level must be READ_ONLY or MAINTENANCE" }).optional(),
  reason: reasonSchema,
  ttlMs: z
    .number()
    .int("the TTL must be a whole number of milliseconds")
    .min(MIN_SAFE_MODE_TTL_MS, "the TTL must be at least 1 minute")
    .max(MAX_SAFE_MODE_TTL_MS, "the TTL must be at most 30 days")
    .nullable()
    .optional(),
  message: z.string().trim().max(500, "the message is too long (500 characters at most)").optional(),
});
export type SafeModeInput = z.input<typeof safeModeInputSchema>;

export const killSwitchInputSchema = z.object({ active: z.boolean(), reason: reasonSchema });
export type KillSwitchInput = z.input<typeof killSwitchInputSchema>;

export interface SafeModeChange {
  active: boolean;
  level: SafeModeLevel;
  scopes: string[];
  message: string | null;
  /** The activation (opened, updated or closed; the first one for "off" with `all`). */
  eventId: string;
  /** Every activation the call closed ("off"), or the one it opened or updated. */
  eventIds: string[];
  expiresAt: Date | null;
  /** "on" opened a new activation, "update" changed one, "off" closed one or more. */
  kind: "on" | "update" | "off";
  /** What the audit entry says (action, target, diff, summary). */
  audit: {
    action: "safe_mode.on" | "safe_mode.off" | "kill_switch.on" | "kill_switch.off";
    targetType: "safe_mode";
    targetId: string;
    diff: Record<string, unknown>;
    summary: string;
  };
}

function parsed<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message));
    throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  }
  return r.data;
}

function parseSafeModeInput(input: SafeModeInput): z.output<typeof safeModeInputSchema> {
  const data = parsed(safeModeInputSchema, input);
  if (!data.active && (data.level !== undefined || data.ttlMs != null || data.message || data.scopes?.length)) {
    throw new DomainError("BAD_REQUEST", "scope, level, TTL and message only apply when turning safe mode on");
  }
  if (data.active && data.all) throw new DomainError("BAD_REQUEST", "`all` only applies when turning safe mode off");
  if (!data.active && data.all && data.id)
    throw new DomainError("BAD_REQUEST", "name one activation or all of them, not both");
  return data;
}

/** Human form of a scope list: "everything", or the scopes joined. */
export function describeScopes(scopes: readonly string[]): string {
  return scopes.length === 0 ? "everything" : scopes.join(", ");
}

/**
 * Normalises the scopes (trimmed, deduplicated, sorted) and checks each names something that
 * exists: a known conversation, a skill that is not retired, a risk class. Refuses otherwise.
 */
export async function checkSafeModeScopes(tx: Tx, scopes: readonly string[]): Promise<string[]> {
  const list = [...new Set(scopes.map((s) => s.trim()))].sort();
  const byType = (t: string) => list.filter((s) => s.startsWith(`${t}:`)).map((s) => s.slice(t.length + 1));
  const problems: string[] = [];
  const convs = byType("conversation");
  if (convs.length) {
    const known = new Set(
      (
        await tx.conversation.findMany({ where: { conversationId: { in: convs } }, select: { conversationId: true } })
      ).map((c) => c.conversationId),
    );
    for (const c of convs) if (!known.has(c)) problems.push(`scope conversation:${c}: no such conversation`);
  }
  const skills = byType("skill");
  if (skills.length) {
    const known = new Set(
      (await tx.skill.findMany({ where: { key: { in: skills }, retiredAt: null }, select: { key: true } })).map(
        (s) => s.key,
      ),
    );
    for (const k of skills) if (!known.has(k)) problems.push(`scope skill:${k}: no such skill`);
  }
  for (const r of byType("risk"))
    if (!["READ", "WRITE", "DESTRUCTIVE"].includes(r))
      problems.push(`scope risk:${r}: the risk classes are READ, WRITE and DESTRUCTIVE`);
  if (problems.length) throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  return list;
}

export const sameScopes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((s, i) => s === [...b].sort()[i]);

async function lockSwitches(tx: Tx): Promise<void> {
  // The singleton exists after bootstrap; create it otherwise, then lock it so two switches at the
  // same moment apply one after the other.
  await tx.safeModeState.createMany({ data: [{ id: 1 }], skipDuplicates: true });
  await tx.$queryRaw`SELECT id FROM "SafeModeState" WHERE id = 1 FOR UPDATE`;
}

/** A notice for the ops chats, sent once by one runtime replica (see the runtime's ops-notices). */
async function notice(tx: Tx, title: string, text: string): Promise<void> {
  await tx.opsNotice.create({ data: { title, text } });
}

const until = (d: Date | null) => (d ? ` until ${d.toISOString()}` : "");

type EventRow = Awaited<ReturnType<Tx["safeModeEvent"]["findFirstOrThrow"]>>;

/** Closes activations past their expiry on `tx` (ended at the expiry, by "ttl"); returns them. */
async function closeExpired(tx: Tx, now: Date): Promise<EventRow[]> {
  const expired = await tx.safeModeEvent.findMany({
    where: { endedAt: null, expiresAt: { lte: now } },
    orderBy: { expiresAt: "asc" },
  });
  for (const e of expired) {
    await tx.safeModeEvent.update({
      where: { id: e.id },
      data: { endedAt: e.expiresAt, endedBy: "ttl", endReason: "expired (TTL elapsed)" },
    });
    await endIncidentTrigger(tx, { kind: "safe_mode", refId: e.id }, e.expiresAt!);
    await notice(
      tx,
      "Safe mode ended",
      `Safe mode **${e.level}** on ${describeScopes(e.scopes)} expired at ${e.expiresAt!.toISOString()} (set by ${e.actorName}: ${e.reason}).`,
    );
  }
  return expired;
}

/**
 * The change on `tx` (without the audit entry and revision: `setSafeMode` and the console's
 * `configMutation` add those in the same transaction). Input is validated first; a refusal
 * throws DomainError before anything is written.
 */
export async function applySafeMode(
  tx: Tx,
  actor: Actor,
  input: SafeModeInput,
  now: Date = new Date(),
): Promise<SafeModeChange> {
  const data = parseSafeModeInput(input);
  await lockSwitches(tx);
  await closeExpired(tx, now);
  const live = await tx.safeModeEvent.findMany({
    where: { endedAt: null, kind: "SAFE_MODE" },
    orderBy: { startedAt: "asc" },
  });
  const by = actor.name;

  if (!data.active) {
    let closing: EventRow[];
    if (data.id) {
      const one = live.find((e) => e.id === data.id);
      if (!one)
        throw new DomainError("CONFLICT", `No safe-mode activation ${data.id} is in force: nothing changed.`, {
          reason: "not_in_force",
        });
      closing = [one];
    } else if (live.length === 0) {
      throw new DomainError("CONFLICT", "Safe mode is already off: nothing changed.", { reason: "already_off" });
    } else if (data.all || live.length === 1) {
      closing = live;
    } else {
      throw new DomainError(
        "BAD_REQUEST",
        `${live.length} safe-mode activations are in force: name one (${live.map((e) => e.id).join(", ")}) or all of them.`,
        { reason: "ambiguous" },
      );
    }
    for (const e of closing) {
      await tx.safeModeEvent.update({
        where: { id: e.id },
        data: { endedAt: now, endedBy: by, endReason: data.reason },
      });
      await endIncidentTrigger(tx, { kind: "safe_mode", refId: e.id }, now);
      await notice(
        tx,
        "Safe mode ended",
        `Safe mode **${e.level}** on ${describeScopes(e.scopes)} was turned off by ${by}: ${data.reason}`,
      );
    }
    const first = closing[0]!;
    return {
      active: live.length > closing.length,
      level: first.level,
      scopes: first.scopes,
      message: null,
      eventId: first.id,
      eventIds: closing.map((e) => e.id),
      expiresAt: null,
      kind: "off",
      audit: {
        action: "safe_mode.off",
        targetType: "safe_mode",
        targetId: first.id,
        diff: {
          active: { from: true, to: live.length > closing.length },
          ended: closing.map((e) => ({ id: e.id, level: e.level, scopes: e.scopes })),
          reason: data.reason,
        },
        summary: `Safe mode off (${closing.map((e) => describeScopes(e.scopes)).join("; ")}): ${data.reason}`,
      },
    };
  }

  const scopes = data.scopes === undefined ? undefined : await checkSafeModeScopes(tx, data.scopes);
  let target: EventRow | undefined;
  if (data.id) {
    target = live.find((e) => e.id === data.id);
    if (!target)
      throw new DomainError("CONFLICT", `No safe-mode activation ${data.id} is in force: nothing changed.`, {
        reason: "not_in_force",
      });
  } else target = live.find((e) => sameScopes(e.scopes, scopes ?? []));

  let expiresAt: Date | null;
  if (data.ttlMs === undefined) expiresAt = target?.expiresAt ?? null;
  else if (data.ttlMs === null) expiresAt = null;
  else expiresAt = new Date(now.getTime() + data.ttlMs);
  const message = data.message === undefined ? (target?.message ?? null) : data.message || null;
  const level = data.level ?? target?.level ?? "READ_ONLY";

  if (target) {
    const newScopes = scopes ?? target.scopes;
    await tx.safeModeEvent.update({ where: { id: target.id }, data: { level, expiresAt, message, scopes: newScopes } });
    const diff: Record<string, unknown> = { reason: data.reason };
    if (target.level !== level) diff.level = { from: target.level, to: level };
    if (!sameScopes(target.scopes, newScopes)) diff.scopes = { from: target.scopes, to: newScopes };
    if (target.expiresAt?.getTime() !== expiresAt?.getTime())
      diff.expiresAt = { from: target.expiresAt?.toISOString() ?? null, to: expiresAt?.toISOString() ?? null };
    if (target.message !== message) diff.message = { from: target.message, to: message };
    await notice(
      tx,
      "Safe mode changed",
      `Safe mode on ${describeScopes(newScopes)} is now **${level}**${until(expiresAt)} (changed by ${by}: ${data.reason}).`,
    );
    return {
      active: true,
      level,
      scopes: newScopes,
      message,
      eventId: target.id,
      eventIds: [target.id],
      expiresAt,
      kind: "update",
      audit: {
        action: "safe_mode.on",
        targetType: "safe_mode",
        targetId: target.id,
        diff,
        summary: `Safe mode ${level} on ${describeScopes(newScopes)} updated: ${data.reason}`,
      },
    };
  }

  const newScopes = scopes ?? [];
  const event = await tx.safeModeEvent.create({
    data: {
      kind: "SAFE_MODE",
      level,
      scopes: newScopes,
      message,
      reason: data.reason,
      actorType: actor.type,
      actorId: actor.id ?? null,
      actorName: by,
      startedAt: now,
      expiresAt,
    },
  });
  const summary = `Safe mode ${level} on ${describeScopes(newScopes)}${until(expiresAt)}: ${data.reason}`;
  await openOrJoinIncident(tx, { kind: "safe_mode", refId: event.id, summary, actor, at: now });
  await notice(
    tx,
    "Safe mode on",
    `Safe mode **${level}** on ${describeScopes(newScopes)}${until(expiresAt)}, by ${by}: ${data.reason}`,
  );
  return {
    active: true,
    level,
    scopes: newScopes,
    message,
    eventId: event.id,
    eventIds: [event.id],
    expiresAt,
    kind: "on",
    audit: {
      action: "safe_mode.on",
      targetType: "safe_mode",
      targetId: event.id,
      diff: {
        active: { from: live.length > 0, to: true },
        level,
        scopes: newScopes,
        expiresAt: expiresAt?.toISOString() ?? null,
        message,
        reason: data.reason,
      },
      summary,
    },
  };
}

/**
 * The kill switch on `tx`: on opens a KILL_SWITCH activation (every WRITE and DESTRUCTIVE skill
 * withdrawn by the runtime), off closes it. Skills' own `enabled` is never written, so off
 * restores exactly the previous state. Without audit and revision (see `setKillSwitch`).
 */
export async function applyKillSwitch(
  tx: Tx,
  actor: Actor,
  input: KillSwitchInput,
  now: Date = new Date(),
): Promise<SafeModeChange> {
  const data = parsed(killSwitchInputSchema, input);
  await lockSwitches(tx);
  const current = await tx.safeModeEvent.findFirst({ where: { endedAt: null, kind: "KILL_SWITCH" } });
  const writers = (
    await tx.skill.findMany({
      where: { retiredAt: null, riskClass: { in: ["WRITE", "DESTRUCTIVE"] } },
      select: { key: true, enabled: true },
      orderBy: { key: "asc" },
    })
  ).filter((s) => s.enabled);
  const scopes = ["risk:DESTRUCTIVE", "risk:WRITE"];
  if (!data.active) {
    if (!current)
      throw new DomainError("CONFLICT", "The kill switch is already off: nothing changed.", { reason: "already_off" });
    await tx.safeModeEvent.update({
      where: { id: current.id },
      data: { endedAt: now, endedBy: actor.name, endReason: data.reason },
    });
    await endIncidentTrigger(tx, { kind: "kill_switch", refId: current.id }, now);
    await notice(
      tx,
      "Kill switch off",
      `The kill switch is off (by ${actor.name}: ${data.reason}); skills are back as they were.`,
    );
    return {
      active: false,
      level: current.level,
      scopes,
      message: null,
      eventId: current.id,
      eventIds: [current.id],
      expiresAt: null,
      kind: "off",
      audit: {
        action: "kill_switch.off",
        targetType: "safe_mode",
        targetId: current.id,
        diff: { active: { from: true, to: false }, restored: writers.map((s) => s.key), reason: data.reason },
        summary: `Kill switch off: ${data.reason}`,
      },
    };
  }
  if (current)
    throw new DomainError(
      "CONFLICT",
      `The kill switch is already on (since ${current.startedAt.toISOString()} by ${current.actorName}).`,
      {
        reason: "already_on",
      },
    );
  const event = await tx.safeModeEvent.create({
    data: {
      kind: "KILL_SWITCH",
      level: "READ_ONLY",
      scopes,
      reason: data.reason,
      actorType: actor.type,
      actorId: actor.id ?? null,
      actorName: actor.name,
      startedAt: now,
    },
  });
  const summary = `Kill switch on: every WRITE and DESTRUCTIVE skill withdrawn: ${data.reason}`;
  await openOrJoinIncident(tx, { kind: "kill_switch", refId: event.id, summary, actor, at: now });
  await notice(
    tx,
    "Kill switch on",
    `The kill switch is on (by ${actor.name}: ${data.reason}): no skill that writes or deletes runs.`,
  );
  return {
    active: true,
    level: "READ_ONLY",
    scopes,
    message: null,
    eventId: event.id,
    eventIds: [event.id],
    expiresAt: null,
    kind: "on",
    audit: {
      action: "kill_switch.on",
      targetType: "safe_mode",
      targetId: event.id,
      diff: { active: { from: false, to: true }, withdrawn: writers.map((s) => s.key), reason: data.reason },
      summary,
    },
  };
}

/**
 * Closes every activation past its expiry (history, incident trigger, ops-chat notice, audit and
 * a config revision), exactly once however many replicas call it at the same moment. Returns the
 * activations it closed (none: nothing written).
 */
export async function closeExpiredSafeMode(db: Db, now: Date = new Date()): Promise<string[]> {
  // Cheap check first: most calls find nothing and take no lock.
  const due = await db.safeModeEvent.count({ where: { endedAt: null, expiresAt: { lte: now } } });
  if (due === 0) return [];
  return db.$transaction(async (tx) => {
    await lockSwitches(tx);
    const closed = await closeExpired(tx, now);
    if (closed.length === 0) return [];
    await recordConfigChange(tx, {
      actor: { type: "SYSTEM", name: "safe-mode expiry" },
      action: "safe_mode.expire",
      targetType: "safe_mode",
      targetId: closed[0]!.id,
      diff: { expired: closed.map((e) => ({ id: e.id, level: e.level, scopes: e.scopes, expiresAt: e.expiresAt })) },
      summary: `Safe mode expired (${closed.map((e) => describeScopes(e.scopes)).join("; ")})`,
    });
    return closed.map((e) => e.id);
  });
}

const EVENT_COLUMNS = {
  id: true,
  kind: true,
  level: true,
  scopes: true,
  message: true,
  reason: true,
  actorType: true,
  actorName: true,
  startedAt: true,
  expiresAt: true,
  endedAt: true,
  endedBy: true,
  endReason: true,
} as const;

/**
 * What is in force at `now`, as the runtime applies it: the safe-mode activations (an activation
 * past its expiry counts as ended even before the sweep closes it) and the kill switch.
 */
export async function safeModeStatus(db: Db | Tx, now: Date = new Date()) {
  const open = await db.safeModeEvent.findMany({
    where: { endedAt: null },
    orderBy: { startedAt: "asc" },
    select: EVENT_COLUMNS,
  });
  const live = open.filter((e) => !e.expiresAt || e.expiresAt.getTime() > now.getTime());
  const activations = live.filter((e) => e.kind === "SAFE_MODE");
  const levels = activations.map((e) => e.level);
  return {
    active: activations.length > 0,
    /** The strictest level in force (any scope), or null. */
    level: levels.includes("MAINTENANCE") ? ("MAINTENANCE" as const) : levels.length ? ("READ_ONLY" as const) : null,
    activations,
    killSwitch: live.find((e) => e.kind === "KILL_SWITCH") ?? null,
    now,
  };
}

/**
 * Activations, newest first, `limit` a page after `cursor` (an event id). `now` is the server's
 * clock, so a reader can tell an unclosed activation past its TTL from an ongoing one.
 */
export async function safeModeHistory(db: Db | Tx, page: { cursor?: string | undefined; limit: number }) {
  const rows = await db.safeModeEvent.findMany({
    orderBy: [{ startedAt: "desc" }, { id: "desc" }],
    take: page.limit + 1,
    ...(page.cursor ? { cursor: { id: page.cursor }, skip: 1 } : {}),
    select: EVENT_COLUMNS,
  });
  const more = rows.length > page.limit;
  const total = await db.safeModeEvent.count();
  return {
    items: more ? rows.slice(0, page.limit) : rows,
    nextCursor: more ? rows[page.limit - 1]!.id : null,
    total,
    now: new Date(),
  };
}

/** Switches safe mode in one transaction: activation, incident, notice, audit entry and config revision. */
export async function setSafeMode(
  db: Db,
  actor: Actor,
  input: SafeModeInput,
  now: Date = new Date(),
  opts: { traceId?: string | null } = {},
): Promise<SafeModeChange & { revision: number }> {
  return db.$transaction(async (tx) => {
    const change = await applySafeMode(tx, actor, input, now);
    const revision = await recordConfigChange(tx, { actor, traceId: opts.traceId ?? null, ...change.audit });
    return { ...change, revision };
  });
}

/** Switches the kill switch in one transaction: activation, incident, notice, audit entry and config revision. */
export async function setKillSwitch(
  db: Db,
  actor: Actor,
  input: KillSwitchInput,
  now: Date = new Date(),
  opts: { traceId?: string | null } = {},
): Promise<SafeModeChange & { revision: number }> {
  return db.$transaction(async (tx) => {
    const change = await applyKillSwitch(tx, actor, input, now);
    const revision = await recordConfigChange(tx, { actor, traceId: opts.traceId ?? null, ...change.audit });
    return { ...change, revision };
  });
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * Parses a duration such as "90s", "30m", "2h", "1d", "1w" or a combination ("1h30m") into
 * milliseconds. Throws a DomainError naming the accepted forms for anything else.
 */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  const bad = () =>
    new DomainError(
      "BAD_REQUEST",
      `"${text}" is not a duration: use a number and a unit, e.g. 90s, 30m, 2h, 1d, 1w or 1h30m`,
    );
  if (!/^(\d+[smhdw])+$/.test(s)) throw bad();
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)([smhdw])/g)) total += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(total) || total <= 0) throw bad();
  return total;
}

/**
 * The chats told about safe mode and the kill switch: the onboard file's `ops_chats` entries
 * given as a bare id, or with the purpose "incidents". A malformed section names none.
 */
export async function incidentChats(db: Db | Tx): Promise<string[]> {
  const { opsChatsSectionSchema } = await import("./config/schema.ts");
  const row = await db.configSection.findUnique({ where: { key: "ops_chats" } });
  const parsed = opsChatsSectionSchema.safeParse(row?.value ?? []);
  if (!parsed.success) return [];
  const ids = parsed.data.flatMap((c) => (c.purposes.includes("incidents") ? [c.id] : []));
  return [...new Set(ids)];
}
