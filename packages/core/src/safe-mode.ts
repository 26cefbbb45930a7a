/**
 * Safe mode, the break-glass switch. Turning it on or off is ONE transaction: the singleton
 * state row (id 1), the history (a SafeModeEvent opened on activation, closed on deactivation),
 * an audit entry ("safe_mode.on" / "safe_mode.off") and a config revision, whose NOTIFY makes
 * every runtime replica reload its snapshot. The console and the CLI (`clawgate safe-mode`,
 * which works with the console down) both call this.
 *
 * - Turning it on while it is already on updates the CURRENT activation in place: what the call
 *   gives replaces what was set (level; a TTL counts from now, `ttlMs: null` removes the expiry;
 *   a message, "" clears it), what it leaves out is kept. The event keeps its original reason;
 *   the audit entry records the new reason and which fields changed.
 * - An activation past its TTL already counts as off for the runtime (see `effectiveSafeMode`),
 *   but its event stays open until someone closes it: turning on again closes it as expired
 *   (ended at its expiry, by "ttl") and opens a new one; turning off closes it with the
 *   operator's reason.
 * - Turning it off while it is off is refused (nothing changes).
 */
import type { Db, Tx } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { DomainError } from "./errors.ts";
import { recordConfigChange } from "./revision.ts";

export const SAFE_MODE_LEVELS = ["READ_ONLY", "MAINTENANCE"] as const;
export type SafeModeLevel = (typeof SAFE_MODE_LEVELS)[number];

export const MIN_SAFE_MODE_TTL_MS = 60_000; // 1 minute
export const MAX_SAFE_MODE_TTL_MS = 30 * 24 * 3_600_000; // 30 days

export const safeModeInputSchema = z.object({
  active: z.boolean(),
  level: z.enum(SAFE_MODE_LEVELS, { error: "level must be READ_ONLY or MAINTENANCE" }).optional(),
  reason: z
    .string({ error: "a reason is required" })
    .trim()
    .min(1, "a reason is required: say why (it goes into the history and the audit log)")
    .max(500, "the reason is too long (500 characters at most)"),
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

export interface SafeModeChange {
  active: boolean;
  level: SafeModeLevel;
  message: string | null;
  /** The activation (opened, updated or closed). */
  eventId: string;
  expiresAt: Date | null;
  /** "on" opened a new activation, "update" changed the current one, "off" closed it. */
  kind: "on" | "update" | "off";
  /** What the audit entry says (action, target, diff, summary). */
  audit: {
    action: "safe_mode.on" | "safe_mode.off";
    targetType: "safe_mode";
    targetId: string;
    diff: Record<string, unknown>;
    summary: string;
  };
}

function parseSafeModeInput(input: SafeModeInput): z.output<typeof safeModeInputSchema> {
  const parsed = safeModeInputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message));
    throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  }
  if (!parsed.data.active && (parsed.data.level !== undefined || parsed.data.ttlMs != null || parsed.data.message)) {
    throw new DomainError("BAD_REQUEST", "level, TTL and message only apply when turning safe mode on");
  }
  return parsed.data;
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
  // The singleton exists after the seed; create it otherwise, then lock it so two switches at
  // the same moment apply one after the other.
  await tx.safeModeState.createMany({ data: [{ id: 1 }], skipDuplicates: true });
  await tx.$queryRaw`SELECT id FROM "SafeModeState" WHERE id = 1 FOR UPDATE`;
  const state = await tx.safeModeState.findUniqueOrThrow({ where: { id: 1 }, include: { currentEvent: true } });
  const current = state.active ? state.currentEvent : null;
  const by = actor.name;

  if (!data.active) {
    if (!state.active)
      throw new DomainError("CONFLICT", "Safe mode is already off: nothing changed.", { reason: "already_off" });
    await tx.safeModeState.update({ where: { id: 1 }, data: { active: false, message: null, currentEventId: null } });
    let eventId = current?.id ?? "";
    if (current) {
      await tx.safeModeEvent.update({
        where: { id: current.id },
        data: { endedAt: now, endedBy: by, endReason: data.reason },
      });
    } else {
      // Active without an event (written by hand or an older tool): record the end anyway.
      eventId = (
        await tx.safeModeEvent.create({
          data: {
            level: state.level,
            reason: "(no recorded activation)",
            actorType: actor.type,
            actorId: actor.id ?? null,
            actorName: by,
            startedAt: now,
            endedAt: now,
            endedBy: by,
            endReason: data.reason,
          },
        })
      ).id;
    }
    return {
      active: false,
      level: state.level,
      message: null,
      eventId,
      expiresAt: null,
      kind: "off",
      audit: {
        action: "safe_mode.off",
        targetType: "safe_mode",
        targetId: eventId,
        diff: { active: { from: true, to: false }, reason: data.reason },
        summary: `Safe mode off: ${data.reason}`,
      },
    };
  }

  const expired = current?.expiresAt != null && current.expiresAt.getTime() <= now.getTime();
  const live = current && !expired ? current : null;
  // Left out: keep the live activation's value (or the default for a new one).
  const level = data.level ?? live?.level ?? "READ_ONLY";
  let expiresAt: Date | null;
  if (data.ttlMs === undefined) expiresAt = live?.expiresAt ?? null;
  else if (data.ttlMs === null) expiresAt = null;
  else expiresAt = new Date(now.getTime() + data.ttlMs);
  const message = data.message === undefined ? (live ? state.message : null) : data.message || null;

  if (live) {
    await tx.safeModeEvent.update({ where: { id: live.id }, data: { level, expiresAt } });
    await tx.safeModeState.update({ where: { id: 1 }, data: { level, message } });
    const diff: Record<string, unknown> = { reason: data.reason };
    if (live.level !== level) diff.level = { from: live.level, to: level };
    if (live.expiresAt?.getTime() !== expiresAt?.getTime())
      diff.expiresAt = { from: live.expiresAt?.toISOString() ?? null, to: expiresAt?.toISOString() ?? null };
    if (state.message !== message) diff.message = { from: state.message, to: message };
    return {
      active: true,
      level,
      message,
      eventId: live.id,
      expiresAt,
      kind: "update",
      audit: {
        action: "safe_mode.on",
        targetType: "safe_mode",
        targetId: live.id,
        diff,
        summary: `Safe mode ${level} updated: ${data.reason}`,
      },
    };
  }

  if (current && expired) {
    await tx.safeModeEvent.update({
      where: { id: current.id },
      data: { endedAt: current.expiresAt, endedBy: "ttl", endReason: "expired (TTL elapsed)" },
    });
  }
  const event = await tx.safeModeEvent.create({
    data: {
      level,
      reason: data.reason,
      actorType: actor.type,
      actorId: actor.id ?? null,
      actorName: by,
      startedAt: now,
      expiresAt,
    },
  });
  await tx.safeModeState.update({ where: { id: 1 }, data: { active: true, level, message, currentEventId: event.id } });
  const ttl = expiresAt ? ` until ${expiresAt.toISOString()}` : "";
  return {
    active: true,
    level,
    message,
    eventId: event.id,
    expiresAt,
    kind: "on",
    audit: {
      action: "safe_mode.on",
      targetType: "safe_mode",
      targetId: event.id,
      diff: {
        active: { from: false, to: true },
        level,
        expiresAt: expiresAt?.toISOString() ?? null,
        message,
        reason: data.reason,
      },
      summary: `Safe mode ${level} on${ttl}: ${data.reason}`,
    },
  };
}

const EVENT_COLUMNS = {
  id: true,
  level: true,
  reason: true,
  actorType: true,
  actorName: true,
  startedAt: true,
  expiresAt: true,
  endedAt: true,
  endedBy: true,
  endReason: true,
} as const;

/** The current state as the runtime applies it (an activation past its TTL counts as off). */
export async function safeModeStatus(db: Db | Tx, now: Date = new Date()) {
  const state = await db.safeModeState.findUnique({
    where: { id: 1 },
    include: { currentEvent: { select: EVENT_COLUMNS } },
  });
  const event = state?.active ? (state.currentEvent ?? null) : null;
  const expired = !!event?.expiresAt && event.expiresAt.getTime() <= now.getTime();
  return {
    active: !!state?.active && !expired,
    level: state?.level ?? "READ_ONLY",
    message: state?.active ? (state.message ?? null) : null,
    event,
    expired,
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

/** Switches safe mode in one transaction: state, history, audit entry and config revision. */
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
