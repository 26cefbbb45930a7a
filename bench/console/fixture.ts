/**
 * The console benchmark's data: the demo seed plus a realistic day of traffic, so every page does
 * real work: 1,000 conversations, inbound messages and skill invocations spread over the last
 * 24 hours (the Overview's window), approvals (some pending), and audit rows with a valid hash
 * chain (computed here with core's `auditHash`, with their own times over the last 24 hours).
 */
import { randomBytes } from "node:crypto";
import { auditHash } from "../../packages/core/src/audit.ts";
import { seedDemo } from "../../packages/core/src/index.ts";
import type { Db } from "../../packages/db/src/index.ts";
import type { InvocationOutcome } from "../../packages/db/src/enums.ts";

export interface Volume {
  conversations: number;
  inbound: number;
  invocations: number;
  audit: number;
  approvals: number;
}

export const DEFAULT_VOLUME: Volume = {
  conversations: 1_000,
  inbound: 5_000,
  invocations: 8_000,
  audit: 3_000,
  approvals: 300,
};

const DAY = 86_400_000;
const CHUNK = 1_000;

/** A deterministic pseudo-random sequence (the same data every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

async function inChunks<T>(rows: T[], write: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) await write(rows.slice(i, i + CHUNK));
}

const hex = (n: number) => randomBytes(n).toString("hex");

/** Seeds the demo data and the volume; returns the counts written. */
export async function seedVolume(
  db: Db,
  seed: { modelBaseUrl?: string; internalApiBaseUrl?: string },
  v: Volume = DEFAULT_VOLUME,
): Promise<Volume> {
  await seedDemo(db, seed);
  const r = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const now = Date.now();
  // Most traffic in working hours would be nicer; uniform over the day is enough for the queries.
  const inLastDay = () => new Date(now - Math.floor(r() * DAY));
  const skills = (await db.skill.findMany({ select: { key: true } })).map((s) => s.key);

  const conversations = Array.from({ length: v.conversations }, (_, i) => ({
    conversationId: `cid-bench-${i.toString().padStart(4, "0")}`,
    robotCode: "dingbenchrobot",
    title: `Bench ${r() < 0.7 ? "group" : "chat"} ${i}`,
    type: r() < 0.7 ? ("GROUP" as const) : ("SINGLE" as const),
    environment: r() < 0.9 ? ("PROD" as const) : ("TEST" as const),
    status: pick(["ENABLED", "ENABLED", "ENABLED", "PENDING", "DISABLED"] as const),
    firstSeenAt: new Date(now - 30 * DAY + Math.floor(r() * 29 * DAY)),
    lastSeenAt: inLastDay(),
  }));
  await inChunks(conversations, (data) => db.conversation.createMany({ data }));
  const cids = conversations.map((c) => c.conversationId);
  const users = Array.from({ length: 400 }, (_, i) => `staff-bench-${i}`);

  const inbound = Array.from({ length: v.inbound }, (_, i) => {
    const receivedAt = inLastDay();
    const status = pick([
      "REPLIED",
      "REPLIED",
      "REPLIED",
      "REPLIED",
      "REPLIED",
      "REPLIED",
      "DENIED",
      "FAILED",
      "RECEIVED",
    ] as const);
    return {
      id: `inb_bench_${i}`,
      robotCode: "dingbenchrobot",
      msgId: `msg-bench-${i}-${hex(4)}`,
      channel: pick(["HTTP", "HTTP", "STREAM"] as const),
      conversationId: pick(cids),
      senderId: pick(users),
      msgType: "text",
      payload: { msgtype: "text", text: { content: "synthetic benchmark message" } },
      status,
      traceId: hex(16),
      receivedAt,
      processedAt: status === "RECEIVED" ? null : new Date(receivedAt.getTime() + 800 + Math.floor(r() * 3_000)),
    };
  });
  await inChunks(inbound, (data) => db.inboundMessage.createMany({ data }));

  const invocations = Array.from({ length: v.invocations }, (_, i) => {
    const decision = pick(["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DENY", "NEEDS_APPROVAL"] as const);
    const outcome: InvocationOutcome =
      decision === "DENY"
        ? "DENIED"
        : decision === "NEEDS_APPROVAL"
          ? "PENDING_APPROVAL"
          : pick([
              "SUCCESS",
              "SUCCESS",
              "SUCCESS",
              "SUCCESS",
              "SUCCESS",
              "SUCCESS",
              "SUCCESS",
              "SUCCESS",
              "ERROR",
              "TIMEOUT",
            ] as const);
    const msg = inbound[i % inbound.length]!;
    return {
      id: `inv_bench_${i}`,
      traceId: msg.traceId,
      inboundMessageId: msg.id,
      conversationId: msg.conversationId,
      userId: msg.senderId,
      skillKey: pick(skills),
      decision,
      reasons: decision === "DENY" ? ["skill not allowed in this conversation"] : [],
      latencyMs: 20 + Math.floor(r() * 900),
      promptTokens: 300 + Math.floor(r() * 2_000),
      completionTokens: 20 + Math.floor(r() * 400),
      cacheHit: r() < 0.2,
      outcome,
      configRevision: 1,
      createdAt: new Date(msg.receivedAt.getTime() + 200),
    };
  });
  await inChunks(invocations, (data) => db.skillInvocation.createMany({ data }));

  // Approvals need a skill that exists; their invocation is one of the NEEDS_APPROVAL rows.
  const needing = invocations.filter((x) => x.decision === "NEEDS_APPROVAL").slice(0, v.approvals);
  const approvals = needing.map((x, i) => ({
    invocationId: x.id,
    skillKey: x.skillKey,
    conversationId: x.conversationId,
    requesterId: x.userId,
    input: { title: "synthetic benchmark request" },
    status: i < 20 ? ("PENDING" as const) : pick(["APPROVED", "REJECTED", "EXPIRED", "EXECUTED", "EXECUTED"] as const),
    expiresAt: new Date(now + (i < 20 ? DAY : -DAY)),
    traceId: x.traceId,
    configRevision: 1,
    createdAt: x.createdAt,
  }));
  await inChunks(approvals, (data) => db.approvalRequest.createMany({ data }));

  // Audit rows continue the seed's chain, oldest first, so `verifyAuditChain` still holds.
  let prevHash = (await db.auditLog.findFirst({ orderBy: { id: "desc" }, select: { hash: true } }))?.hash ?? null;
  const times = Array.from({ length: v.audit }, () => now - Math.floor(r() * DAY)).sort((a, b) => a - b);
  const audit = times.map((t, i) => {
    const fields = {
      at: new Date(t),
      actorType: "USER" as const,
      actorId: null,
      actorName: pick(["admin@clawgate.local", "operator@clawgate.local", "approver@clawgate.local"]),
      action: pick(["skill.update", "conversation.update", "flag.update", "approval.decide", "budget.update"]),
      targetType: "bench",
      targetId: `bench-${i}`,
      diff: { changed: ["enabled"] },
      traceId: hex(16),
      configRevision: null,
      prevHash,
    };
    const hash = auditHash(fields);
    prevHash = hash;
    return { ...fields, hash };
  });
  await inChunks(audit, (data) => db.auditLog.createMany({ data }));

  return {
    conversations: conversations.length,
    inbound: inbound.length,
    invocations: invocations.length,
    audit: audit.length,
    approvals: approvals.length,
  };
}
