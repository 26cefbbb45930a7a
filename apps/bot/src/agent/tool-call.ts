/**
 * One tool call from the model: the policy decides again (the snapshot may have moved since
 * the tools were offered, and a model may call a tool it was not offered), then the skill runs,
 * an approval is requested, or the refusal goes back to the model. Every call is recorded as a
 * `SkillInvocation` (metadata only: no input, no output).
 */
import { decide, effectiveSafeMode, SAFE_MODE_REFUSALS, type PolicySnapshot, type ReasonCode } from "@clawgate/core";
import { maskPersonalData } from "@clawgate/core/redact.ts";
import { requestApproval } from "@clawgate/core/approvals.ts";
import type { Db } from "@clawgate/db";
import { canonicalJson, runSkill, shapeOutput, type SkillCache, type SkillContext } from "@clawgate/skills";
import { createHash, randomUUID } from "node:crypto";
import { skillVersion } from "../approvals/binding.ts";
import { skillSecretReader } from "../secret-refs.ts";
import type { Catalog, ModelRoute } from "./catalog.ts";
import { ASYNC_COMMIT, type Sql } from "./sql.ts";
import type { TurnStep } from "./steps.ts";
import { ModelUnavailableError } from "./model.ts";

export interface TurnContext {
  db: Db;
  /** The per-turn statements (memory, invocations): see sql.ts. */
  sql: Sql;
  cache: SkillCache;
  snapshot: PolicySnapshot;
  /** The policy as it is now: a tool call is decided on it (safe mode switched on mid-turn applies). */
  latest?: () => PolicySnapshot | null;
  catalog: Catalog;
  route: ModelRoute;
  conversationId: string;
  userId: string;
  traceId: string;
  inboundId: string | null;
  /** Skill keys offered this turn (what `help` lists). */
  offered: readonly string[];
  /** Aborted by the caller or at the turn's deadline. */
  signal: AbortSignal;
  /** When the turn must give up and answer with the fallback (epoch ms, `now()`'s clock). */
  deadlineAt: number;
  now: () => number;
  fetch?: typeof fetch;
  /** Holds a slot of the route's endpoint around each model call (the cap across replicas). */
  modelSlots?: ModelSlots;
  /** Steps an earlier run of this message's turn stored (steps.ts): replayed, not redone. */
  resume?: { steps: TurnStep[]; nextSeq: number };
  /** Where the turn's SkillInvocation rows go; without it each call waits for its own row. */
  writes?: DeferredWrites;
  /** The runtime's group send for `group.announce`, bound to a send key (worker/announce.ts). */
  announce?: (sendKey: string) => NonNullable<SkillContext["announce"]>;
  /**
   * Untrusted outputs this turn has read so far (run-turn.ts appends): every later WRITE or
   * DESTRUCTIVE call waits for an approver, and its request names them.
   */
  untrusted?: UntrustedSource[];
  /** Each model call's latency, outcome and reported tokens (the runtime's metrics). */
  observeModelCall?: (call: ModelCallObservation) => void;
}

export interface ModelCallObservation {
  /** The endpoint's configured name (bounded: the catalog's), not the conversation's route scope. */
  endpoint: string;
  seconds: number;
  outcome: "ok" | "error";
  promptTokens: number;
  completionTokens: number;
}

/** An untrusted tool output the turn read: which skill, and its SkillInvocation row. */
export interface UntrustedSource {
  skillKey: string;
  invocationId: string;
}

/**
 * Rows a turn records as it goes (SkillInvocation): written while the turn moves on to its
 * next model call instead of holding it up, and all awaited before the turn ends (`settle`
 * throws the first failure, so a turn whose rows were not written fails as before).
 */
export class DeferredWrites {
  #pending: Promise<void>[] = [];
  #failed = false;
  #failure: unknown;

  add(write: Promise<unknown>): void {
    // A handler at once: a failed write must not be an unhandled rejection while the turn waits for the model.
    this.#pending.push(
      write.then(
        () => undefined,
        (error: unknown) => {
          if (!this.#failed) [this.#failed, this.#failure] = [true, error];
        },
      ),
    );
  }

  async settle(): Promise<void> {
    await Promise.all(this.#pending);
    this.#pending = [];
    if (this.#failed) throw this.#failure;
  }
}

/**
 * The per-model concurrency cap, shared by all replicas: `run` holds one of the endpoint's
 * `maxConcurrency` slots while `fn` runs. When no slot frees up in time it throws a
 * ModelUnavailableError subclass (the turn then gets the fallback reply, not charged).
 */
export interface ModelSlots {
  run<T>(
    endpoint: { endpointName: string; maxConcurrency: number },
    signal: AbortSignal,
    fn: () => Promise<T>,
  ): Promise<T>;
}

export interface ToolCallResult {
  /** What the model reads as the tool's answer. */
  content: string;
  approvalId?: string;
  /** Set when read-only safe mode refused the call: its message, which the reply must carry. */
  safeModeNotice?: string;
  /** As recorded in SkillInvocation (for metrics). */
  decision: Decision;
  outcome: Outcome;
  /** Set when the model read this call's output and the skill's output is untrusted. */
  untrusted?: UntrustedSource;
}

type Decision = "ALLOW" | "DENY" | "NEEDS_APPROVAL";

type Outcome = "SUCCESS" | "ERROR" | "TIMEOUT" | "DENIED" | "PENDING_APPROVAL";

type InvocationRecord = {
  id: string;
  traceId: string;
  inboundMessageId: string | null;
  conversationId: string;
  userId: string;
  skillKey: string;
  decision: Decision;
  reasons: string[];
  latencyMs: number;
  cacheHit: boolean;
  outcome: Outcome;
  error: string | null;
  configRevision: number;
};

// One statement, no Prisma on the hot path, committed like the memory save (sql.ts). The reasons go as JSON: a text[] parameter is not
// passed the same way by pg and by Prisma's raw queries.
const INSERT_INVOCATION = `INSERT INTO "SkillInvocation"
  ("id", "traceId", "inboundMessageId", "conversationId", "userId", "skillKey", "decision", "reasons", "latencyMs", "cacheHit", "outcome", "error", "configRevision")
  VALUES ($1, $2, $3, $4, $5, $6, $7::"Decision", ARRAY(SELECT jsonb_array_elements_text($8::jsonb)), $9, $10, $11::"InvocationOutcome", $12, $13)
  RETURNING ${ASYNC_COMMIT}`;

/** Records the row, deferred to the turn's writes when it has them. */
async function recordInvocation(t: TurnContext, r: InvocationRecord): Promise<void> {
  const write = insertInvocation(t.sql, r);
  if (t.writes) t.writes.add(write);
  else await write;
}

async function insertInvocation(sql: Sql, r: InvocationRecord): Promise<void> {
  await sql.query(INSERT_INVOCATION, [
    r.id,
    r.traceId,
    r.inboundMessageId,
    r.conversationId,
    r.userId,
    r.skillKey,
    r.decision,
    JSON.stringify(r.reasons),
    r.latencyMs,
    r.cacheHit,
    r.outcome,
    r.error,
    r.configRevision,
  ]);
}

function parseArguments(raw: string): unknown {
  try {
    return raw.trim() === "" ? {} : JSON.parse(raw);
  } catch {
    return undefined; // the manifest's validation reports it
  }
}

export async function callTool(turn: TurnContext, skillKey: string, rawArguments: string): Promise<ToolCallResult> {
  const started = performance.now();
  const t = { ...turn, snapshot: turn.latest?.() ?? turn.snapshot };
  const untrusted = [...(t.untrusted ?? [])];
  const decision = decide(
    t.snapshot,
    {
      conversationId: t.conversationId,
      userId: t.userId,
      now: t.now(),
      ...(untrusted.length > 0 ? { untrustedRead: untrusted.map((u) => u.skillKey) } : {}),
    },
    { kind: "skill", skillKey },
  );
  const recorded: Decision =
    decision.outcome === "allow" ? "ALLOW" : decision.outcome === "deny" ? "DENY" : "NEEDS_APPROVAL";
  const record = (
    outcome: Outcome,
    extra: { error?: string; cacheHit?: boolean; latencyMs?: number } = {},
  ): InvocationRecord => ({
    id: randomUUID(),
    traceId: t.traceId,
    inboundMessageId: t.inboundId,
    conversationId: t.conversationId,
    userId: t.userId,
    skillKey,
    decision: recorded,
    reasons: decision.reasons.map((r) => r.code),
    latencyMs: Math.round(extra.latencyMs ?? performance.now() - started),
    cacheHit: extra.cacheHit ?? false,
    outcome,
    error: extra.error === undefined ? null : maskPersonalData(extra.error).slice(0, 500),
    configRevision: t.snapshot.revision,
  });

  if (decision.outcome === "deny") {
    await recordInvocation(t, record("DENIED"));
    return {
      // What to do with it (tell the user, do not work around it) is in the system prompt.
      content: `Refused by policy: ${decision.reasons.map((r) => r.detail).join(" ")}`,
      decision: recorded,
      outcome: "DENIED",
      ...safeModeNotice(decision.reasons),
    };
  }
  const skill = t.catalog.toolbox.get(skillKey);
  if (!skill) {
    await recordInvocation(t, record("ERROR", { error: "no handler in this runtime" }));
    return {
      content: `The skill "${skillKey}" is not available in this runtime.`,
      decision: recorded,
      outcome: "ERROR",
    };
  }
  const args = parseArguments(rawArguments);

  if (decision.outcome === "needs_approval") {
    const parsed = skill.manifest.input.safeParse(args);
    if (!parsed.success) {
      const error = `invalid input: ${parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ")}`;
      await recordInvocation(t, record("ERROR", { error }));
      return { content: `Not submitted for approval, ${error}`, decision: recorded, outcome: "ERROR" };
    }
    const input = skill.manifest.resolveInput?.(parsed.data, { conversationId: t.conversationId }) ?? parsed.data;
    const approval = await t.db.$transaction(async (tx) => {
      const invocation = await tx.skillInvocation.create({ data: record("PENDING_APPROVAL"), select: { id: true } });
      return requestApproval(tx, {
        skillKey,
        skillVersion: skillVersion(skill.manifest, t.snapshot, t.catalog.settings(skill.settingsFrom ?? skillKey)),
        riskClass: t.snapshot.skills.get(skillKey)?.riskClass ?? skill.manifest.riskClass,
        input,
        requesterId: t.userId,
        conversationId: t.conversationId,
        traceId: t.traceId,
        configRevision: t.snapshot.revision,
        invocationId: invocation.id,
        inboundId: t.inboundId,
        now: new Date(t.now()),
        ...(decision.reasons.some((r) => r.code === "approval.untrusted_content")
          ? {
              untrustedSources: untrusted.map((u) => ({ ...u })),
              reason: `the turn had read untrusted content before this call (${untrusted.map((u) => u.skillKey).join(", ")})`,
            }
          : {}),
      });
    });
    return {
      // The reply's closing line tells the user (run-turn.ts): the model need not repeat it.
      content: `"${skillKey}" was not run yet: it was sent to an approver, and the user is told so at the end of your answer. Do not repeat that or any request id.`,
      approvalId: approval.id,
      decision: recorded,
      outcome: "PENDING_APPROVAL",
    };
  }

  const own = t.catalog.settings(skill.settingsFrom ?? skillKey);
  const settings = skillKey === "help" ? { ...own, available: t.offered } : own;
  const ctx: SkillContext = {
    signal: t.signal,
    settings,
    conversationId: t.conversationId,
    userId: t.userId,
    traceId: t.traceId,
    fetch: t.fetch ?? fetch,
    now: t.now,
    getSecret: skillSecretReader(t.catalog.secretRefs),
    // Keyed on the turn and the arguments: a re-run of the turn (its job retried) sends the same
    // announcement once, and two different ones in a turn are two sends.
    ...(t.announce
      ? {
          announce: t.announce(
            `${t.traceId}:${createHash("sha256").update(canonicalJson(args)).digest("hex").slice(0, 16)}`,
          ),
        }
      : {}),
    status: async () => ({
      safeMode: effectiveSafeMode(t.snapshot.safeMode, t.now(), t.conversationId) ?? "off",
      configRevision: t.snapshot.revision,
      model: t.route.endpointName,
      route: t.route.scope,
    }),
  };
  const run = () => runSkill(skill.manifest, skill.handler, args, ctx, { cache: t.cache });
  let ran: Awaited<ReturnType<typeof run>>;
  try {
    // An outside server's cap across replicas: the model slots' leases, under the server's name.
    ran = skill.slots && t.modelSlots ? await t.modelSlots.run(skill.slots, t.signal, run) : await run();
  } catch (error) {
    if (!(error instanceof ModelUnavailableError) || t.signal.aborted) throw error;
    ran = {
      result: { ok: false, error: `${skillKey} is busy: ${error.message}`, retryable: true },
      cacheHit: false,
      latencyMs: 0,
    };
  }
  const { result, cacheHit, latencyMs } = ran;
  const outcome: Outcome = result.ok ? "SUCCESS" : / timed out after /.test(result.error) ? "TIMEOUT" : "ERROR";
  const row = record(outcome, { cacheHit, latencyMs, ...(result.ok ? {} : { error: result.error }) });
  await recordInvocation(t, row);
  const policy = skill.output ?? {};
  // A tool's error text is its server's words too: untrusted like its output.
  const content = result.ok ? result.content : `The skill failed: ${result.error}`;
  return {
    content: shapeOutput(skillKey, content, policy),
    decision: recorded,
    outcome,
    ...(policy.untrusted ? { untrusted: { skillKey, invocationId: row.id } } : {}),
  };
}

function safeModeNotice(reasons: readonly { code: string; detail: string }[]): { safeModeNotice?: string } {
  const reason = reasons.find((r) => SAFE_MODE_REFUSALS.has(r.code as ReasonCode));
  return reason ? { safeModeNotice: reason.detail } : {};
}
