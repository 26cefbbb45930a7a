/** Prometheus metrics on a registry of our own (tests build many servers in one process). */
import type { ApprovalMetrics } from "@clawgate/core/approvals.ts";
import { internalApiBreakers, mcpBreakers } from "@clawgate/skills";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { modelBreakers } from "./agent/model.ts";

/** What `serve` reads at scrape time from the database (each under a 1 s deadline; see `scrapeRead`). */
export interface QueueStats {
  /** Jobs due and not taken, by task: how many, and how long the oldest has been due (seconds). */
  waiting: { task: string; jobs: number; oldestSeconds: number }[];
  /** Jobs out of attempts (graphile-worker keeps them; our handlers dead-letter before that). */
  failed: number;
}

export interface ReplicaStats {
  /** The newest config revision in the database. */
  latestRevision: number;
  /** RuntimeInstance rows by whether their heartbeat is recent. */
  live: number;
  stale: number;
}

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  /** Inbound messages by channel (HTTP, EVENT, STREAM) and outcome (stored, duplicate, 401 reasons, ...). */
  ingress: Counter<"channel" | "outcome">;
  /** Outbound sends by channel and outcome (sent, already_sent, throttled, failed). */
  outbound: Counter<"channel" | "outcome">;
  /** Message decisions by outcome and the reason the reply gave ("none" for an allow). */
  policyDecisions: Counter<"outcome" | "reason">;
  /** Agent turns by outcome (answered, model_unavailable, no_route, failed). */
  agentTurns: Counter<"outcome">;
  /** Tool calls by skill, policy decision and outcome (as recorded in SkillInvocation). */
  toolCalls: Counter<"skill" | "decision" | "outcome">;
  /** 1 while a circuit breaker is open (model:<endpoint>, internal_api:<base URL>), read at scrape time. */
  breakerOpen: Gauge<"name">;
  /** Messages refused by the shared limits: budget, rate_limited (one reply), rate_dropped (silent). */
  limitRefusals: Counter<"kind">;
  /** Work this process gave up on (DeadLetter rows it wrote), by source (INGRESS, INBOUND_JOB). */
  deadLetters: Counter<"source">;
  /** OPEN dead letters in the database (all replicas), read at scrape time through `openDeadLetters`. */
  deadLettersOpen: Gauge;
  /** Set by `serve`: counts the OPEN dead letters (the gauge is absent until it is set). */
  openDeadLetters?: () => Promise<number>;
  /** Approval card clicks by outcome (approved, rejected, refusal reasons, signature failures). */
  approvalCardClicks: Counter<"outcome">;
  /** Approver metrics (pending, time to decision p50/p95, expiry rate over 7 days), read at scrape time through `approvalStats`. */
  approvals: Gauge<"stat">;
  /** Set by `serve`: core's approvalMetrics (the gauge is absent until it is set). */
  approvalStats?: () => Promise<ApprovalMetrics>;
  /** Model calls (one `complete`, retries included) by endpoint name and outcome (ok, error). */
  modelDuration: Histogram<"endpoint" | "outcome">;
  /** Tokens the model endpoints reported, by endpoint name and kind (prompt, completion). */
  modelTokens: Counter<"endpoint" | "kind">;
  /** The config revision this process enforces (set by `serve` from its policy snapshot). */
  configRevisionApplied: Gauge;
  /** Set by `serve`: the revision of this replica's policy snapshot (null before the first). */
  appliedRevision?: () => number | null;
  /** graphile-worker's jobs due and not yet taken, by task, read at scrape time through `queueStats`. */
  queueDepth: Gauge<"task">;
  queueOldestAge: Gauge<"task">;
  queueFailed: Gauge;
  queueStats?: () => Promise<QueueStats>;
  /** The newest config revision in the database and the replicas' heartbeat rows, read through `replicaStats`. */
  configRevisionLatest: Gauge;
  runtimeInstances: Gauge<"state">;
  replicaStats?: () => Promise<ReplicaStats>;
}

/**
 * A tool call's `skill` label: the key of a skill this runtime knows (built-in, or a catalog row such
 * as `mcp.<server>.<tool>` / `http.<name>`), else "unknown", so a name the model made up never
 * becomes a label value.
 */
export function skillLabel(key: string, known: (key: string) => boolean): string {
  return known(key) ? key : "unknown";
}

/** The agent's model-call observer (createAgent's `observeModelCall`) recording into these metrics. */
export function observeModelCall(metrics: Metrics) {
  return (c: {
    endpoint: string;
    seconds: number;
    outcome: string;
    promptTokens: number;
    completionTokens: number;
  }) => {
    metrics.modelDuration.observe({ endpoint: c.endpoint, outcome: c.outcome }, c.seconds);
    if (c.promptTokens > 0) metrics.modelTokens.inc({ endpoint: c.endpoint, kind: "prompt" }, c.promptTokens);
    if (c.completionTokens > 0)
      metrics.modelTokens.inc({ endpoint: c.endpoint, kind: "completion" }, c.completionTokens);
  };
}

/**
 * A database read for scrapes: undefined when it is not set, fails or takes over a second (the
 * gauges keep their values). At most one read runs at a time: collects of one scrape share it, and
 * a read stuck on a stalled database is not joined by another on every scrape.
 */
function scrapeReader<T>(read: () => (() => Promise<T>) | undefined): () => Promise<T | undefined> {
  let running: Promise<T | undefined> | undefined;
  return () => {
    const fn = read();
    if (!fn) return Promise.resolve(undefined);
    running ??= fn()
      .catch(() => undefined)
      .finally(() => (running = undefined));
    return Promise.race([running, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000).unref())]);
  };
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "clawgate_" });
  const httpDuration = new Histogram({
    name: "clawgate_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"] as const,
    // Fine below 25 ms: the ack latency targets (p50 <= 5 ms, p99 <= 25 ms) are read off these.
    buckets: [0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const ingress = counter("clawgate_ingress_messages_total", "Inbound DingTalk messages by channel and outcome", [
    "channel",
    "outcome",
  ]);
  const outbound = counter("clawgate_outbound_messages_total", "Outbound DingTalk sends by channel and outcome", [
    "channel",
    "outcome",
  ]);
  const policyDecisions = counter(
    "clawgate_policy_decisions_total",
    "Policy decisions on inbound messages by outcome and reason",
    ["outcome", "reason"],
  );
  const agentTurns = counter("clawgate_agent_turns_total", "Agent turns by outcome", ["outcome"]);
  const toolCalls = counter("clawgate_tool_calls_total", "Tool calls by skill, policy decision and outcome", [
    "skill",
    "decision",
    "outcome",
  ]);
  const limitRefusals = counter(
    "clawgate_limit_refusals_total",
    "Messages refused by token budgets and rate limits, by kind",
    ["kind"],
  );
  const breakerOpen = new Gauge({
    name: "clawgate_breaker_open",
    help: "1 while the circuit breaker is open (calls refused or a trial call running), by breaker",
    labelNames: ["name"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const b of [...modelBreakers.states(), ...internalApiBreakers.states(), ...mcpBreakers.states()])
        this.set({ name: b.name }, b.open ? 1 : 0);
    },
  });
  const deadLetters = counter(
    "clawgate_dead_letters_total",
    "Dead letters written by this process (messages or jobs given up on), by source",
    ["source"],
  );
  const metrics: Metrics = {} as Metrics;
  const openDeadLetters = scrapeReader(() => metrics.openDeadLetters);
  const approvalStats = scrapeReader(() => metrics.approvalStats);
  const queueStats = scrapeReader(() => metrics.queueStats);
  const replicaStats = scrapeReader(() => metrics.replicaStats);
  const deadLettersOpen = new Gauge({
    name: "clawgate_dead_letters_open",
    help: "OPEN dead letters in the database (all replicas), for operators to look at and retry",
    registers: [registry],
    async collect() {
      // A scrape must not hang on a stalled database: the gauge keeps its last value then.
      const n = await openDeadLetters();
      if (n !== undefined) this.set(n);
    },
  });
  const approvalCardClicks = counter("clawgate_approval_card_clicks_total", "Approval card clicks by outcome", [
    "outcome",
  ]);
  const approvals = new Gauge({
    name: "clawgate_approvals",
    help: "Approvals: pending (now), decision_p50_seconds / decision_p95_seconds / expiry_rate (requests of the last 7 days)",
    labelNames: ["stat"] as const,
    registers: [registry],
    async collect() {
      const m = await approvalStats();
      if (!m) return;
      this.set({ stat: "pending" }, m.pending);
      if (m.decisionP50Seconds !== null) this.set({ stat: "decision_p50_seconds" }, m.decisionP50Seconds);
      if (m.decisionP95Seconds !== null) this.set({ stat: "decision_p95_seconds" }, m.decisionP95Seconds);
      if (m.expiryRate !== null) this.set({ stat: "expiry_rate" }, m.expiryRate);
    },
  });
  const modelDuration = new Histogram({
    name: "clawgate_model_request_duration_seconds",
    help: "Model calls (retries included) by endpoint and outcome",
    labelNames: ["endpoint", "outcome"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 18, 30],
    registers: [registry],
  });
  const modelTokens = counter(
    "clawgate_model_tokens_total",
    "Tokens reported by the model endpoints, by endpoint and kind",
    ["endpoint", "kind"],
  );
  const configRevisionApplied = new Gauge({
    name: "clawgate_config_revision_applied",
    help: "The config revision this replica enforces (0 before its first policy snapshot)",
    registers: [registry],
    collect() {
      const revision = metrics.appliedRevision?.();
      if (revision !== undefined && revision !== null) this.set(revision);
    },
  });
  const queueDepth = new Gauge({
    name: "clawgate_queue_depth",
    help: "Queue jobs due and not yet taken, by task (all replicas: one shared queue)",
    labelNames: ["task"] as const,
    registers: [registry],
    async collect() {
      const q = await queueStats();
      if (!q) return;
      this.reset();
      for (const w of q.waiting) this.set({ task: w.task }, w.jobs);
    },
  });
  const queueOldestAge = new Gauge({
    name: "clawgate_queue_oldest_job_age_seconds",
    help: "How long the oldest queue job due and not yet taken has been due, by task (0: none waiting)",
    labelNames: ["task"] as const,
    registers: [registry],
    async collect() {
      const q = await queueStats();
      if (!q) return;
      this.reset();
      for (const w of q.waiting) this.set({ task: w.task }, w.oldestSeconds);
    },
  });
  const queueFailed = new Gauge({
    name: "clawgate_queue_failed_jobs",
    help: "Queue jobs out of attempts (kept by graphile-worker; see clawgate_dead_letters_open)",
    registers: [registry],
    async collect() {
      const q = await queueStats();
      if (q) this.set(q.failed);
    },
  });
  const configRevisionLatest = new Gauge({
    name: "clawgate_config_revision_latest",
    help: "The newest config revision in the database (compare clawgate_config_revision_applied)",
    registers: [registry],
    async collect() {
      const r = await replicaStats();
      if (r) this.set(r.latestRevision);
    },
  });
  const runtimeInstances = new Gauge({
    name: "clawgate_runtime_instances",
    help: "Runtime replicas by heartbeat: live (recent) or stale (stopped beating, not yet cleaned up)",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const r = await replicaStats();
      if (!r) return;
      this.set({ state: "live" }, r.live);
      this.set({ state: "stale" }, r.stale);
    },
  });
  return Object.assign(metrics, {
    modelDuration,
    modelTokens,
    configRevisionApplied,
    queueDepth,
    queueOldestAge,
    queueFailed,
    configRevisionLatest,
    runtimeInstances,
    approvalCardClicks,
    approvals,
    registry,
    httpDuration,
    ingress,
    outbound,
    policyDecisions,
    agentTurns,
    toolCalls,
    breakerOpen,
    limitRefusals,
    deadLetters,
    deadLettersOpen,
  });
}
