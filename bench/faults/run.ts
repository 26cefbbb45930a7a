/**
 * Fault benchmark: three `clawgate serve` replicas (HTTP mode) on a PostgreSQL cluster of the
 * benchmark's own (embedded, its own port and temp directory, so it can be stalled), every
 * message delivered 5 times at once across the replicas, the model answering 500 then 429 for a
 * while, one replica SIGKILLed mid-run, then PostgreSQL SIGSTOPped (postmaster and backends)
 * and resumed. Pass: every acknowledged message answered exactly once, no 200 for a message not
 * stored, 503 within 1 s during the stall, processing back within 10 s of the resume.
 *
 *   npm run bench:faults                                  (1,500 messages: minutes on 2 cores)
 *   BENCH_MESSAGES=10000 BENCH_RATE=100 npm run bench:faults   (the full size)
 *   BENCH_STALL_S=30 BENCH_LATENCY_MS=200 BENCH_PER_CONVERSATION=5
 *
 * Timeline from the first message: model error500 at 3 s, rate_limited at 6 s, ok at 9 s;
 * replica 0 SIGKILLed at 12 s; PostgreSQL stopped at 20 s for BENCH_STALL_S. DingTalk is the
 * fake (in this process): its callbacks go to a fan-out here that posts each one to the
 * replicas 5 times concurrently (round robin) and answers 200 if any copy got 200; an
 * unacknowledged message is delivered again every second, as DingTalk retries.
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { recordConfigChange, seedDemo } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { startEmbeddedPostgres } from "@clawgate/devstack/embedded-pg";
import { startFakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase } from "@clawgate/devstack/testdb";
import { startFakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { WORKING_REPLY } from "../../apps/bot/src/worker/handle-inbound.ts";
import { scrapeMetrics } from "../lib/ack.ts";
import { pct, sorted, startBenchModel, report, startRuntime, UNTHROTTLED, waitReady } from "../lib/processes.ts";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_500);
const PER_CONVERSATION = Number(process.env.BENCH_PER_CONVERSATION ?? 5);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const STALL_MS = Number(process.env.BENCH_STALL_S ?? 30) * 1000;
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 200);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const COPIES = 5;
const MAX_IN_FLIGHT = Number(process.env.BENCH_MAX_IN_FLIGHT ?? 500);
let inFlight = 0;
// Every SKILL_EVERY-th message asks for a ticket: a write skill (approval switched off here) whose
// side effect is counted on the fake internal API's side.
const SKILL_EVERY = Number(process.env.BENCH_SKILL_EVERY ?? 5);
const APP_KEY = "dingbenchfaultskey";
const APP_SECRET = "bench-faults-secret-0123456789";
const PORTS = { pg: 18_500, model: 18_501, replicas: [18_502, 18_503, 18_504] };

const spawned: ChildProcess[] = [];
process.on("exit", () => spawned.forEach((c) => c.kill("SIGKILL")));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

/** The replicas' own 503s on the robot route: total and within 1 s (the histogram's 1 s bucket). */
async function server503s(bases: string[]): Promise<{ total: number; within1s: number }> {
  let total = 0;
  let within1s = 0;
  for (const base of bases) {
    const text = await scrapeMetrics(`${base}/metrics`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.text())
      .catch(() => "");
    for (const line of text.split("\n")) {
      if (
        !line.startsWith("clawgate_http_request_duration_seconds_bucket{") ||
        !line.includes('route="/dingtalk/robot"')
      )
        continue;
      if (!line.includes('status="503"')) continue;
      const n = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (line.includes('le="1"')) within1s += n;
      if (line.includes('le="+Inf"')) total += n;
    }
  }
  return { total, within1s };
}

interface Post {
  at: number;
  ms: number;
  status: number;
}

async function main(): Promise<void> {
  const pgDir = mkdtempSync(path.join(os.tmpdir(), "clawgate-bench-faults-"));
  chmodSync(pgDir, 0o755); // as root, the cluster runs as `postgres`, which must enter it
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(pgDir, "data"), port: PORTS.pg });
  let stalled = false;
  const tdb = await createTestDatabase({ serverUrl: cluster.serverUrl, prefix: "clawgate_bench_faults" });
  // The benchmark's own connections wait long: on a loaded machine the stalled-then-busy cluster
  // can take seconds to hand one out.
  const db = createDb(tdb.url, { max: 2, connectionTimeoutMillis: 60_000 });
  const model = await startBenchModel(PORTS.model, LATENCY_MS);
  const api = await startFakeInternalApi({ port: 0 });
  spawned.push(model.proc);
  // Retried: on a busy machine a reused keep-alive connection can be closed under the request.
  const setModel = async (mode: string) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(`http://127.0.0.1:${PORTS.model}/_demo/mode`, {
          method: "POST",
          body: JSON.stringify({ mode }),
        });
        if (r.ok) return;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
      await sleep(100);
    }
  };

  // The fan-out: every callback to the replicas COPIES times at once.
  const bases = PORTS.replicas.map((p) => `http://127.0.0.1:${p}`);
  const posts: Post[] = [];
  const acked = new Set<string>();
  let round = 0;
  const proxy = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const msgId = (JSON.parse(body.toString()) as { msgId: string }).msgId;
      const headers = {
        timestamp: String(req.headers.timestamp),
        sign: String(req.headers.sign),
        "content-type": "application/json",
      };
      const first = round++;
      const answers = await Promise.all(
        Array.from({ length: COPIES }, async (_, j) => {
          const at = Date.now();
          try {
            const r = await fetch(`${bases[(first + j) % bases.length]}/dingtalk/robot`, {
              method: "POST",
              headers,
              body,
              signal: AbortSignal.timeout(5_000),
            });
            await r.arrayBuffer();
            posts.push({ at, ms: Date.now() - at, status: r.status });
            return r.status;
          } catch {
            return 0; // the killed replica: connection refused
          }
        }),
      );
      const ok = answers.includes(200);
      if (ok) acked.add(msgId);
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(ok ? '{"msgtype":"empty"}' : "{}");
    })().catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    callbackUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/dingtalk/robot`,
    callbackTimeoutMs: 10_000,
  });

  const conversations = Array.from({ length: Math.ceil(MESSAGES / PER_CONVERSATION) }, (_, i) => `cid-faults-${i}`);
  const replicas: ChildProcess[] = [];
  try {
    await seedDemo(db, { modelBaseUrl: model.url, internalApiBaseUrl: api.url });
    await db.$transaction(
      async (tx) => {
        await tx.conversation.createMany({
          data: conversations.map((conversationId) => ({
            conversationId,
            type: "GROUP" as const,
            status: "ENABLED" as const,
          })),
        });
        await tx.tokenBudget.updateMany({
          data: { requestsPerMinute: 1_000_000, dailyTokens: 1_000_000_000, monthlyTokens: null },
        });
        await tx.modelEndpoint.updateMany({ data: { maxConcurrency: 3 * WORKERS + 8 } });
        await tx.skill.updateMany({ where: { key: "ticket.create" }, data: { requiresApproval: false } });
        await recordConfigChange(tx, {
          actor: { type: "SYSTEM", name: "bench" },
          action: "config.onboard",
          targetType: "bench",
          summary: "bench setup",
        });
      },
      { timeout: 120_000 },
    );
    for (const port of PORTS.replicas) {
      const proc = await startRuntime({
        databaseUrl: tdb.url,
        port,
        fakeUrl: fake.url,
        appKey: APP_KEY,
        appSecret: APP_SECRET,
        workers: WORKERS,
        env: { ...UNTHROTTLED },
      });
      spawned.push(proc);
      replicas.push(proc);
      // The replicas' own words (warnings and errors), for when a run goes wrong.
      const log = path.join(os.tmpdir(), `clawgate-bench-faults-replica-${port}.log`);
      // One descriptor per log (opened once): the fan-out holds thousands of sockets at peak.
      const out = createWriteStream(log);
      proc.stdout?.pipe(out);
      proc.stderr?.pipe(out);
      proc.on("exit", (code, signal) => console.log(`replica :${port} exited (${code ?? signal}); its log: ${log}`));
    }
    await Promise.all(bases.map((b) => waitReady(`${b}/ready`)));

    const t0 = Date.now();
    const events: Record<string, number> = {};
    let before503 = { total: 0, within1s: 0 };
    let after503 = { total: 0, within1s: 0 };
    const timeline = (async () => {
      await sleep(3_000 - (Date.now() - t0));
      await setModel("error500");
      await sleep(6_000 - (Date.now() - t0));
      await setModel("rate_limited");
      await sleep(9_000 - (Date.now() - t0));
      await setModel("ok");
      await sleep(12_000 - (Date.now() - t0));
      replicas[0]!.kill("SIGKILL");
      events.killed = Date.now();
      await sleep(20_000 - (Date.now() - t0));
      const survivors = bases.slice(1);
      before503 = await server503s(survivors);
      cluster.signal("SIGSTOP");
      stalled = true;
      events.stopped = Date.now();
      await sleep(STALL_MS);
      after503 = await server503s(survivors);
      cluster.signal("SIGCONT");
      stalled = false;
      events.resumed = Date.now();
    })();

    // The messages, RATE a second, each delivered until acknowledged (DingTalk retries).
    await Promise.all(
      Array.from({ length: MESSAGES }, async (_, i) => {
        await sleep(t0 + (i / RATE) * 1000 - Date.now());
        const msgId = `faults-${i}`;
        const conversationId = conversations[i % conversations.length]!;
        const text = SKILL_EVERY > 0 && i % SKILL_EVERY === 0 ? `create ticket in OPS: faults ${i}` : `message ${i}`;
        const deadline = Date.now() + STALL_MS + 90_000;
        while (!acked.has(msgId)) {
          if (Date.now() > deadline) {
            return;
          }
          // At most MAX_IN_FLIGHT callbacks at once (each is 5 sockets through the fan-out): past
          // that, a delivery waits its turn, as it would in DingTalk's own retry queue.
          while (inFlight >= MAX_IN_FLIGHT) await sleep(50);
          inFlight += 1;
          await fake
            .deliver({ conversationId, text, msgId, senderId: `user-${i % 97}`, via: "http" })
            .catch(() => {})
            .finally(() => (inFlight -= 1));
          if (!acked.has(msgId)) await sleep(1_000);
        }
      }),
    );
    await timeline;

    // Every acknowledged message answered: wait until the replies stop coming.
    // On a busy machine the backlog takes long: wait while it makes progress (2 min without any
    // new reply or finished row ends the wait), at most an hour.
    let last = "";
    let progressAt = Date.now();
    const waitUntil = Date.now() + Number(process.env.BENCH_WAIT_MAX_S ?? 3_600) * 1000;
    while (Date.now() < waitUntil && Date.now() - progressAt < 120_000) {
      const replied = await db.inboundMessage
        .count({ where: { status: { in: ["REPLIED", "FAILED", "DENIED"] } } })
        .catch(() => -1);
      if (replied >= acked.size && `${replied}/${fake.sent.length}` === last) break;
      if (`${replied}/${fake.sent.length}` !== last) progressAt = Date.now();
      last = `${replied}/${fake.sent.length}`;
      await sleep(3_000);
    }
    const drainedAt = Date.now();
    await sleep(3_000); // a late duplicate would show up now

    const stored = await db.inboundMessage.findMany({ select: { msgId: true, status: true, conversationId: true } });
    const storedIds = new Map(stored.map((s) => [s.msgId, s]));
    const unacked = MESSAGES - acked.size;
    const ackedNotStored = [...acked].filter((id) => !storedIds.has(id)).length;
    const notReplied = [...acked].filter((id) => storedIds.get(id)?.status !== "REPLIED").length;
    // Replies per message: a sessionWebhook send names the message it answers (the session the
    // fake put into that delivery). Every reply here goes by sessionWebhook; any other is counted.
    const repliesPer = new Map<string, number>();
    let otherRoute = 0;
    let interim = 0;
    for (const s of fake.sent) {
      if (s.text === WORKING_REPLY) interim += 1;
      else if (s.inReplyTo) repliesPer.set(s.inReplyTo, (repliesPer.get(s.inReplyTo) ?? 0) + 1);
      else otherRoute += 1;
    }
    // Still in the queue when the wait ended (BENCH_WAIT_MAX_S): not answered yet, not lost.
    const queuedAtEnd = [...acked].filter(
      (id) => !repliesPer.has(id) && ["RECEIVED", "PROCESSING"].includes(storedIds.get(id)?.status ?? ""),
    ).length;
    const lost = [...acked].filter((id) => !repliesPer.has(id)).length - queuedAtEnd;
    const doubled = [...repliesPer.entries()].filter(([, n]) => n > 1);
    const duplicates = doubled.reduce((a, [, n]) => a + n - 1, 0);
    const repliedNotAcked = [...repliesPer.keys()].filter((id) => !acked.has(id)).length;
    // Skill side effects, counted by the internal API: tickets per message that asked for one.
    const ticketsPer = new Map<number, number>();
    for (const t of api.tickets.values()) {
      const m = /^faults (\d+)$/.exec(t.title);
      if (m) ticketsPer.set(Number(m[1]), (ticketsPer.get(Number(m[1])) ?? 0) + 1);
    }
    const skillAsked = [...acked].map((id) => Number(id.slice("faults-".length))).filter((i) => i % SKILL_EVERY === 0);
    const tickets = [...ticketsPer.values()].reduce((a, b) => a + b, 0);
    const doubledEffects = [...ticketsPer.values()].filter((n) => n > 1).length;
    const noTicket = skillAsked.filter((i) => !ticketsPer.has(i)).length;
    const ticketPosts = api.requests.filter((r) => r.method === "POST" && r.path === "/tickets").length;
    // How the replies' rows ended, and for every duplicated conversation its sends on the timeline.
    const outbound = await db.outboundMessage.groupBy({ by: ["status"], _count: true });
    const rel = (at: number) =>
      `t=${((at - t0) / 1000).toFixed(2)}s (kill +${((at - events.killed!) / 1000).toFixed(2)}, stop +${((at - events.stopped!) / 1000).toFixed(2)}, resume +${((at - events.resumed!) / 1000).toFixed(2)})`;
    for (const [msgId, n] of doubled) {
      console.log(`duplicate: ${msgId} answered ${n} times`);
      for (const s of fake.sent.filter((x) => x.inReplyTo === msgId))
        console.log(`  ${rel(s.at)} "${s.text.slice(0, 60)}"`);
      const inbound = await db.inboundMessage.findFirst({ where: { msgId }, select: { id: true, status: true } });
      const rows = await db.outboundMessage.findMany({
        where: { inboundMessageId: inbound?.id ?? "-" },
        select: { idempotencyKey: true, status: true, attempts: true, lastError: true, sentAt: true, sendingAt: true },
      });
      console.log(`  inbound ${JSON.stringify(inbound)}`);
      for (const r of rows) console.log(`  row ${JSON.stringify(r)}`);
    }
    const stallPosts = posts.filter((p) => p.at >= events.stopped! && p.at < events.resumed!);
    const stall = sorted(stallPosts.map((p) => p.ms));
    // A 200 answered while the database was stopped could not have been stored.
    const stall200 = stallPosts.filter((p) => p.status === 200 && p.at + p.ms < events.resumed!).length;
    const firstAck = posts.find((p) => p.at >= events.resumed! && p.status === 200);
    const firstReply = fake.sent.find((s) => s.at >= events.resumed!);
    const backIn = (x: number | undefined) => (x === undefined ? NaN : (x - events.resumed!) / 1000);
    const f = (n: number) => n.toFixed(0);
    const served503 = after503.total - before503.total;
    const served503Slow = served503 - (after503.within1s - before503.within1s);
    const pass =
      lost === 0 &&
      duplicates === 0 &&
      doubledEffects === 0 &&
      ackedNotStored === 0 &&
      stall200 === 0 &&
      notReplied === 0 &&
      served503 > 0 &&
      served503Slow === 0 &&
      backIn(firstReply?.at) < 10;

    const statusCounts = outbound.map((o) => `${o.status} ${o._count}`).join(", ");
    const lines = [
      `${MESSAGES} messages (${PER_CONVERSATION} per conversation, ${RATE}/s), each callback posted ${COPIES} times at once across 3 replicas (WORKER_CONCURRENCY=${WORKERS} each); demo model ${LATENCY_MS} ms, error500 from 3 s, rate_limited from 6 s, ok from 9 s; replica 0 SIGKILLed at 12 s; PostgreSQL (own cluster) SIGSTOPped at 20 s for ${STALL_MS / 1000} s. Send limits and budgets raised.`,
      "",
      "| messages | acknowledged | never acknowledged | replies received | lost | duplicate replies | 200 for a message not stored | acknowledged not REPLIED | callbacks during the stall | 503s served during the stall (replicas' histogram) | of them over 1 s | client-side time during the stall p50 / p99 / max ms (the bench's proxy) | 200s answered during the stall | first 200 after resume, s | first reply after resume, s | pass |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
      `| ${MESSAGES} | ${acked.size} | ${unacked} | ${fake.sent.length} | ${lost} | ${duplicates} | ${ackedNotStored} | ${notReplied} | ${stallPosts.length} | ${served503} | ${served503Slow} | ${f(pct(stall, 0.5))} / ${f(pct(stall, 0.99))} / ${f(stall.at(-1) ?? NaN)} | ${stall200} | ${backIn(firstAck?.at).toFixed(1)} | ${backIn(firstReply?.at).toFixed(1)} | ${pass ? "**pass**" : "**FAIL**"} |`,
      "",
      `Acknowledged messages still queued (not answered yet) when the wait ended: ${queuedAtEnd}. Replies to messages never acknowledged (stored by a copy whose 200 came too late for DingTalk's wait; answered once, not counted as duplicates): ${repliedNotAcked}. "Working on it" interim messages: ${interim}. Replies by another route than the message's sessionWebhook: ${otherRoute}. Backlog answered ${((drainedAt - t0) / 60_000).toFixed(1)} min after the first message.`,
      "",
      `Skill side effects (every ${SKILL_EVERY}th message asks for ticket.create, approval off; counted by the internal API): acknowledged messages asking ${skillAsked.length}, tickets created ${tickets}, messages with more than one ticket **${doubledEffects}**, asking messages without a ticket ${noTicket} (answered while the model failed: no turn, no call), POST /tickets requests ${ticketPosts} (a repeat carries the same Idempotency-Key).`,
      "",
      `OutboundMessage rows by status: ${statusCounts}.`,
    ];
    report("faults", lines);
    if (!pass) process.exitCode = 1;
  } finally {
    if (stalled) cluster.signal("SIGCONT");
    for (const child of spawned.splice(0)) child.kill("SIGTERM");
    await fake.close();
    await api.close();
    proxy.close();
    await db.$disconnect();
    await sleep(1_000);
    await tdb.drop().catch(() => {});
    await cluster.stop();
    rmSync(pgDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
