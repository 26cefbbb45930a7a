/** Prometheus metrics on a registry of our own (tests build many servers in one process). */
import type { ApprovalMetrics } from "@clawgate/core/approvals.ts";
import { internalApiBreakers } from "@clawgate/skills";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { modelBreakers } from "./agent/model.ts";

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
      for (const b of [...modelBreakers.states(), ...internalApiBreakers.states()])
        this.set({ name: b.name }, b.open ? 1 : 0);
    },
  });
  const deadLetters = counter(
    "clawgate_dead_letters_total",
    "Dead letters written by this process (messages or jobs given up on), by source",
    ["source"],
  );
  const metrics: Metrics = {} as Metrics;
  const deadLettersOpen = new Gauge({
    name: "clawgate_dead_letters_open",
    help: "OPEN dead letters in the database (all replicas), for operators to look at and retry",
    registers: [registry],
    async collect() {
      if (!metrics.openDeadLetters) return;
      // A scrape must not hang on a stalled database: the gauge keeps its last value then.
      const n = await Promise.race([
        metrics.openDeadLetters().catch(() => undefined),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000).unref()),
      ]);
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
      if (!metrics.approvalStats) return;
      const m = await Promise.race([
        metrics.approvalStats().catch(() => undefined),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000).unref()),
      ]);
      if (!m) return;
      this.set({ stat: "pending" }, m.pending);
      if (m.decisionP50Seconds !== null) this.set({ stat: "decision_p50_seconds" }, m.decisionP50Seconds);
      if (m.decisionP95Seconds !== null) this.set({ stat: "decision_p95_seconds" }, m.decisionP95Seconds);
      if (m.expiryRate !== null) this.set({ stat: "expiry_rate" }, m.expiryRate);
    },
  });
  return Object.assign(metrics, {
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
