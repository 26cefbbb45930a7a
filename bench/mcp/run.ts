/**
 * `bench/mcp`: one MCP tool call through the runtime vs the same call with the bare SDK client,
 * in the same run, against the same real MCP server (the SDK-built demo server).
 *
 * - **bare**: a connected `@modelcontextprotocol/sdk` Client calling `lookup_order`.
 * - **runtime**: `callTool` (apps/bot/src/agent/tool-call.ts), the one execution path of every
 *   tool call: `decide` on the live snapshot (with the turn's untrusted reads), the approved
 *   toolbox entry, the JSON Schema check, timeout and breaker (`runSkill`), the server's
 *   concurrency slot (model-slot leases in PostgreSQL), output shaping, and its SkillInvocation
 *   row (deferred like a turn's, settled every 50 calls).
 * Calls alternate bare/runtime, sequentially, after a warm-up. Env: BENCH_CALLS (default 2000),
 * DATABASE_URL (else embedded PostgreSQL).
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { loadCatalog } from "../../apps/bot/src/agent/catalog.ts";
import { pgSql } from "../../apps/bot/src/agent/sql.ts";
import { callTool, DeferredWrites, type TurnContext } from "../../apps/bot/src/agent/tool-call.ts";
import { createPgPool } from "../../apps/bot/src/db-pool.ts";
import { createModelSlots } from "../../apps/bot/src/limits/model-slots.ts";
import { loadPolicySnapshot, recordConfigChange, seedDemo, seedDemoMcp } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { startDemoMcp } from "@clawgate/devstack/demo-mcp";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { SkillCache } from "../../packages/skills/src/index.ts";
import { benchDatabase } from "../lib/database.ts";
import { pct, sorted } from "../lib/processes.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 2_000);
const WARMUP = 200;
const TOKEN = "bench-mcp-token";
process.env.BENCH_MCP_TOKEN = `Bearer ${TOKEN}`;

const database = await benchDatabase("clawgate_bench_mcp");
const db = createDb(database.url, { max: 4 });
const pool = createPgPool(database.url, { max: 6, applicationName: "bench-mcp" });
const mcp = await startDemoMcp({ token: TOKEN });
try {
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
  const seeded = await seedDemoMcp(db, {
    url: mcp.url,
    tokenEnv: "BENCH_MCP_TOKEN",
    getSecret: (n) => (n === "BENCH_MCP_TOKEN" ? process.env.BENCH_MCP_TOKEN : undefined),
  });
  await db.$transaction(async (tx) => {
    await tx.conversation.create({ data: { conversationId: "cid-bench", type: "GROUP", status: "ENABLED" } });
    await recordConfigChange(tx, {
      actor: { type: "SYSTEM", name: "bench" },
      action: "conversation.update",
      targetType: "conversation",
      summary: "bench conversation",
    });
  });
  const snapshot = await loadPolicySnapshot(db);
  const catalog = await loadCatalog(db, snapshot.revision);
  if (!catalog.toolbox.get("mcp.demo.lookup_order")) throw new Error(`tool not enabled: ${seeded.sync.status}`);
  const slots = createModelSlots({ pool });
  const sql = pgSql(pool, null); // stored in clear (no data key ring in this bench)
  const cache = new SkillCache();
  const controller = new AbortController();
  let writes = new DeferredWrites();
  const turn = (): TurnContext => ({
    db,
    sql,
    cache,
    snapshot,
    catalog,
    route: { endpointName: "none", maxConcurrency: 1 } as TurnContext["route"],
    conversationId: "cid-bench",
    userId: "user-bench",
    traceId: randomUUID(),
    inboundId: null,
    offered: [],
    signal: controller.signal,
    deadlineAt: Date.now() + 60_000,
    now: Date.now,
    modelSlots: slots,
    writes,
    untrusted: [],
  });

  const bare = new Client({ name: "bench", version: "1.0.0" }, { capabilities: {} });
  await bare.connect(
    new StreamableHTTPClientTransport(new URL(mcp.url), {
      requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
    }),
  );
  const ids = ["A-1001", "A-1002", "A-1003"];
  const bareCall = async (i: number) => {
    const r = await bare.callTool({ name: "lookup_order", arguments: { orderId: ids[i % 3]! } });
    if (r.isError) throw new Error("bare call failed");
  };
  const runtimeCall = async (i: number) => {
    const r = await callTool(turn(), "mcp.demo.lookup_order", JSON.stringify({ orderId: ids[i % 3]! }));
    if (r.outcome !== "SUCCESS") throw new Error(`runtime call failed: ${r.content}`);
  };

  const times = { bare: [] as number[], runtime: [] as number[] };
  for (let i = 0; i < WARMUP + CALLS; i++) {
    // Alternate which goes first, so neither always finds the server warmer.
    const order = i % 2 === 0 ? (["bare", "runtime"] as const) : (["runtime", "bare"] as const);
    for (const which of order) {
      const t0 = performance.now();
      await (which === "bare" ? bareCall(i) : runtimeCall(i));
      if (i >= WARMUP) times[which].push(performance.now() - t0);
    }
    if (i % 50 === 49) {
      await writes.settle();
      writes = new DeferredWrites();
    }
  }
  await writes.settle();
  const rows = await db.skillInvocation.count({ where: { skillKey: "mcp.demo.lookup_order", outcome: "SUCCESS" } });

  const stats = (xs: number[]) => {
    const s = sorted(xs);
    return { p50: pct(s, 0.5), p99: pct(s, 0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length };
  };
  const b = stats(times.bare);
  const r = stats(times.runtime);
  const f = (n: number) => n.toFixed(3);
  const table = [
    `| path    | calls | p50 ms | p99 ms | mean ms | ratio (mean) | ratio (p50) |`,
    `| ------- | ----: | -----: | -----: | ------: | -----------: | ----------: |`,
    `| bare    | ${CALLS} | ${f(b.p50)} | ${f(b.p99)} | ${f(b.mean)} |  |  |`,
    `| runtime | ${CALLS} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.mean)} | ${(r.mean / b.mean).toFixed(3)}x | ${(r.p50 / b.p50).toFixed(3)}x |`,
  ].join("\n");
  const header = `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}. ${new Date().toISOString().slice(0, 10)}. ${CALLS} calls each after ${WARMUP} warm-up, alternating; ${rows} SkillInvocation rows written.`;
  console.log(`${header}\n\n${table}`);
  writeFileSync(path.join(REPO_ROOT, "bench/mcp/latest.md"), `${header}\n\n${table}\n`);
  controller.abort();
  await slots.close();
  await bare.close();
} finally {
  await mcp.close();
  await pool.end();
  await db.$disconnect();
  await database.close();
}
