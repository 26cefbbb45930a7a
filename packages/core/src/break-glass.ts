/**
 * Break-glass sign-in: `clawgate break-glass` issues a one-time console link for an existing,
 * active user (database access only, so it works with the identity provider down). The link signs
 * that user in once within its TTL: only the token's sha256 is stored, and the single use is one
 * conditional UPDATE, so two clicks racing each other cannot both win. Issuing opens (or joins) an
 * incident that must be reviewed; the session it makes ends with the TTL (`Session.notAfter`).
 */
import { createHash, randomBytes } from "node:crypto";
import type { Db, Tx } from "@clawgate/db";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";
import { DomainError } from "./errors.ts";
import { openOrJoinIncident } from "./incidents.ts";

export const BREAK_GLASS_MAX_TTL_MS = 4 * 60 * 60_000;
export const BREAK_GLASS_MIN_TTL_MS = 30_000;

export const hashBreakGlassToken = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");

/** "15m", "2h", "90s" -> milliseconds, between 30 s and 4 h; anything else is a BAD_REQUEST. */
export function parseBreakGlassTtl(ttl: string): number {
  const m = /^(\d{1,5})(s|m|h)$/.exec(ttl.trim());
  if (!m) throw new DomainError("BAD_REQUEST", `Bad --ttl "${ttl}": write a number and s, m or h, e.g. 15m.`);
  const ms = Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as "s" | "m" | "h"];
  if (ms < BREAK_GLASS_MIN_TTL_MS || ms > BREAK_GLASS_MAX_TTL_MS)
    throw new DomainError("BAD_REQUEST", `Bad --ttl "${ttl}": between 30s and 4h.`);
  return ms;
}

export interface IssueBreakGlassInput {
  email: string;
  ttlMs: number;
  reason: string;
}

export interface IssuedBreakGlass {
  grantId: string;
  /** The one-time secret: shown once, never stored. */
  token: string;
  userId: string;
  email: string;
  expiresAt: Date;
  incidentId: string;
}

/** Issues a grant for an existing, active user; audited ("auth.break_glass.issue"), opens or joins an incident. */
export async function issueBreakGlass(
  db: Db,
  actor: Actor,
  input: IssueBreakGlassInput,
  now: Date = new Date(),
): Promise<IssuedBreakGlass> {
  const email = input.email.trim().toLowerCase();
  const reason = input.reason.trim();
  const problems: string[] = [];
  if (!email) problems.push("--email is required");
  if (!reason) problems.push("--reason is required: say why the identity provider is bypassed");
  if (reason.length > 500) problems.push("--reason is too long (500 characters at most)");
  if (!(input.ttlMs >= BREAK_GLASS_MIN_TTL_MS && input.ttlMs <= BREAK_GLASS_MAX_TTL_MS))
    problems.push("the TTL must be between 30s and 4h");
  if (problems.length) throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });

  const user = await db.user.findUnique({ where: { email }, select: { id: true, email: true, disabledAt: true } });
  if (!user) throw new DomainError("NOT_FOUND", `No console user ${email}: break-glass signs in existing users only.`);
  if (user.disabledAt) throw new DomainError("CONFLICT", `The user ${email} is disabled.`, { reason: "disabled" });

  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + input.ttlMs);
  return db.$transaction(async (tx) => {
    const grant = await tx.breakGlassGrant.create({
      data: { tokenHash: hashBreakGlassToken(token), userId: user.id, email, reason, issuedBy: actor.name, expiresAt },
      select: { id: true },
    });
    const incident = await openOrJoinIncident(tx, {
      kind: "break_glass",
      refId: grant.id,
      summary: `Break-glass sign-in for ${email}: ${reason}`.slice(0, 500),
      actor,
      at: now,
      endsAt: expiresAt,
    });
    await tx.breakGlassGrant.update({ where: { id: grant.id }, data: { incidentId: incident.incidentId } });
    await appendAudit(tx, {
      actor,
      action: "auth.break_glass.issue",
      targetType: "user",
      targetId: user.id,
      diff: { email, reason, expiresAt: expiresAt.toISOString(), grant: grant.id, incident: incident.incidentId },
    });
    return { grantId: grant.id, token, userId: user.id, email, expiresAt, incidentId: incident.incidentId };
  });
}

export type BreakGlassState =
  | { state: "valid"; email: string; reason: string; expiresAt: Date }
  | { state: "used"; usedAt: Date }
  | { state: "expired"; expiresAt: Date }
  | { state: "unknown" };

/** What a link is, without using it (the page that asks "sign in as ...?"). */
export async function breakGlassState(db: Db, token: string, now: Date = new Date()): Promise<BreakGlassState> {
  const grant = await db.breakGlassGrant.findUnique({ where: { tokenHash: hashBreakGlassToken(token) } });
  if (!grant) return { state: "unknown" };
  if (grant.usedAt) return { state: "used", usedAt: grant.usedAt };
  if (grant.expiresAt.getTime() <= now.getTime()) return { state: "expired", expiresAt: grant.expiresAt };
  return { state: "valid", email: grant.email, reason: grant.reason, expiresAt: grant.expiresAt };
}

export type BreakGlassRedemption =
  | { ok: true; userId: string; email: string; sessionToken: string; expires: Date; incidentId: string | null }
  | { ok: false; reason: "used" | "expired" | "unknown" | "disabled" };

/**
 * Uses a link: marks the grant used (one conditional UPDATE: at most one caller ever wins), makes
 * a database session that ends at the grant's expiry, and audits "auth.sign_in" (method
 * break_glass). A refusal changes nothing.
 */
export async function redeemBreakGlass(
  db: Db,
  token: string,
  client: { ip?: string | null; userAgent?: string | null } = {},
  now: Date = new Date(),
): Promise<BreakGlassRedemption> {
  const tokenHash = hashBreakGlassToken(token);
  return db
    .$transaction(async (tx: Tx) => {
      const won = await tx.breakGlassGrant.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now, usedIp: client.ip ?? null },
      });
      const grant = await tx.breakGlassGrant.findUnique({
        where: { tokenHash },
        include: { user: { select: { id: true, email: true, name: true, disabledAt: true } } },
      });
      if (won.count !== 1 || !grant) {
        if (!grant) return { ok: false as const, reason: "unknown" as const };
        return { ok: false as const, reason: grant.usedAt ? ("used" as const) : ("expired" as const) };
      }
      if (grant.user.disabledAt) throw new RefusedInside("disabled");
      const sessionToken = randomBytes(32).toString("hex");
      await tx.session.create({
        data: { sessionToken, userId: grant.userId, expires: grant.expiresAt, notAfter: grant.expiresAt },
      });
      await tx.user.update({ where: { id: grant.userId }, data: { lastSignInAt: now } });
      await appendAudit(tx, {
        actor: {
          type: "USER",
          id: grant.userId,
          name: grant.user.email ?? grant.userId,
          ip: client.ip ?? null,
          userAgent: client.userAgent ?? null,
        },
        action: "auth.sign_in",
        targetType: "user",
        targetId: grant.userId,
        diff: { method: "break_glass", grant: grant.id, expiresAt: grant.expiresAt.toISOString() },
      });
      return {
        ok: true as const,
        userId: grant.userId,
        email: grant.email,
        sessionToken,
        expires: grant.expiresAt,
        incidentId: grant.incidentId,
      };
    })
    .catch((error: unknown) => {
      // A user disabled since the grant was issued: roll the use back, refuse.
      if (error instanceof RefusedInside) return { ok: false as const, reason: error.reason };
      throw error;
    });
}

class RefusedInside extends Error {
  constructor(readonly reason: "disabled") {
    super(reason);
  }
}
