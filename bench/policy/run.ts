/**
 * bench/policy: cost of one `decide` on an in-memory snapshot of 1,000 conversations x 50 rules.
 * Imports only the pure policy modules (no Prisma, no pg), so a database read is impossible;
 * the snapshot is also walked to prove it holds nothing but data.
 */
import os from "node:os";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { decide, type PolicyContext, type PolicyRequest } from "../../packages/core/src/policy/decide.ts";
import { buildPolicySnapshot, type PolicySnapshot } from "../../packages/core/src/policy/snapshot.ts";
import { buildBenchSource, CONVERSATIONS, RULES_PER_CONVERSATION } from "./fixture.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1 << 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 300_000);
const BATCH = 64;

interface Case {
  ctx: PolicyContext;
  req: PolicyRequest;
}

function makeCases(snapshot: PolicySnapshot, n: number, seed: number): Case[] {
  let s = seed;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const skillKeys = [...snapshot.skills.keys()];
  const now = Date.parse("2026-06-01T12:00:00Z");
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * CONVERSATIONS);
    const conversationId = rnd() < 0.02 ? `cid-unknown-${i}` : `cid-${c}`;
    const userId = rnd() < 0.1 ? `u-outsider-${i % 97}` : `u-${c}-${Math.floor(rnd() * 20)}`;
    const budget = rnd() < 0.01 ? { exhausted: true, scope: "conversation daily" } : undefined;
    const req: PolicyRequest =
      rnd() < 0.2
        ? { kind: "message" }
        : {
            kind: "skill",
            skillKey: rnd() < 0.02 ? "no.such.skill" : skillKeys[Math.floor(rnd() * skillKeys.length)]!,
          };
    cases.push({ ctx: { conversationId, userId, now, ...(budget ? { budget } : {}) }, req });
  }
  return cases;
}

/** Anything that could reach a database (a client, a socket, a function) fails the walk. */
function assertPlainData(value: unknown, seen = new Set<unknown>()): number {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function") throw new Error("snapshot holds a function");
    return 1;
  }
  if (seen.has(value)) return 0;
  seen.add(value);
  let n = 1;
  const proto = Object.getPrototypeOf(value);
  if (value instanceof Map) for (const [k, v] of value) n += assertPlainData(k, seen) + assertPlainData(v, seen);
  else if (value instanceof Set) for (const v of value) n += assertPlainData(v, seen);
  else if (value instanceof Date) return n;
  else if (Array.isArray(value) || proto === Object.prototype)
    for (const v of Object.values(value)) n += assertPlainData(v, seen);
  else throw new Error(`snapshot holds a ${proto?.constructor?.name ?? "foreign"} object`);
  return n;
}

const pct = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

function perCall(
  cases: Case[],
  fn: (snap: PolicySnapshot, ctx: PolicyContext, req: PolicyRequest) => unknown,
  snap: PolicySnapshot,
): Float64Array {
  const out = new Float64Array(cases.length);
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const t0 = process.hrtime.bigint();
    fn(snap, c.ctx, c.req);
    out[i] = Number(process.hrtime.bigint() - t0);
  }
  return out.sort();
}

function perBatch(cases: Case[], snap: PolicySnapshot): Float64Array {
  const out = new Float64Array(Math.floor(cases.length / BATCH));
  for (let b = 0; b < out.length; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = b * BATCH; i < (b + 1) * BATCH; i++) decide(snap, cases[i]!.ctx, cases[i]!.req);
    out[b] = Number(process.hrtime.bigint() - t0) / BATCH;
  }
  return out.sort();
}

const buildStart = performance.now();
const snapshot = buildPolicySnapshot(buildBenchSource());
const buildMs = performance.now() - buildStart;
const ruleCount = [...snapshot.skills.values()].reduce(
  (n, s) => n + (s.globalEffect ? 1 : 0) + s.conversationRules.effects.size + s.userRules.effects.size,
  0,
);
const nodes = assertPlainData(snapshot);
const cases = makeCases(snapshot, REQUESTS, 42);

const outcomes = { allow: 0, deny: 0, needs_approval: 0 };
for (const c of cases) outcomes[decide(snapshot, c.ctx, c.req).outcome]++;
for (let i = 0; i < WARMUP; i++) decide(snapshot, cases[i % cases.length]!.ctx, cases[i % cases.length]!.req);
const noop = (_s: PolicySnapshot, _c: PolicyContext, _r: PolicyRequest) => undefined;
for (let i = 0; i < WARMUP; i++) noop(snapshot, cases[i % cases.length]!.ctx, cases[i % cases.length]!.req);

const rounds: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  for (const c of cases) decide(snapshot, c.ctx, c.req);
  rounds.push(Number(process.hrtime.bigint() - t0) / cases.length);
}
const meanNs = rounds.sort((a, b) => a - b)[2]!;
const baseline = perCall(cases, noop, snapshot);
const calls = perCall(cases, decide, snapshot);
const batches = perBatch(cases, snapshot);
const base50 = pct(baseline, 0.5);

const us = (ns: number) => (ns / 1000).toFixed(3);
const row = (name: string, a: Float64Array, sub = 0) =>
  `| ${name} | ${us(pct(a, 0.5) - sub)} | ${us(pct(a, 0.99) - sub)} | ${us(pct(a, 0.999) - sub)} | ${us(a[a.length - 1]! - sub)} |`;
const p99Net = pct(calls, 0.99) - base50;
const lines = [
  `Snapshot: ${snapshot.conversations.size.toLocaleString("en")} conversations, ${snapshot.skills.size} skills, ${ruleCount.toLocaleString("en")} rules (${RULES_PER_CONVERSATION} per conversation + global), built in ${buildMs.toFixed(0)} ms`,
  `Requests: ${cases.length.toLocaleString("en")} mixed (20% message, 80% skill; 2% unknown conversation, 2% unknown skill, 10% outside users, 1% budget exhausted) after ${WARMUP.toLocaleString("en")} warm-up calls`,
  `Outcomes: allow ${outcomes.allow.toLocaleString("en")}, deny ${outcomes.deny.toLocaleString("en")}, needs_approval ${outcomes.needs_approval.toLocaleString("en")}`,
  "",
  "| per decision (us) | p50 | p99 | p99.9 | max |",
  "|---|---|---|---|---|",
  row("per call, raw (hrtime around one call)", calls),
  row("empty function, same harness (baseline)", baseline),
  row(`per call, net of baseline p50 (${us(base50)} us)`, calls, base50),
  row(`batch mean (${BATCH} calls per timing)`, batches),
  "",
  `Throughput: ${(1e9 / meanNs / 1e6).toFixed(2)} M decisions/s on one core (${meanNs.toFixed(0)} ns mean, median of 5 passes)`,
  `Database: no client in the process (pure modules only); snapshot walk: ${nodes.toLocaleString("en")} values, all plain data, 0 DB handles -> 0 DB reads`,
  `Target p99 <= 20 us: ${p99Net <= 20_000 ? "met" : "MISSED"} (net p99 ${us(p99Net)} us)`,
  "",
  `Machine: ${os.cpus()[0]?.model ?? "?"} x ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; ${new Date().toISOString().slice(0, 10)}`,
];
const text = lines.join("\n");
console.log(text);
writeFileSync(path.join(import.meta.dirname, "latest.md"), text + "\n");
if (p99Net > 20_000) process.exitCode = 1;
