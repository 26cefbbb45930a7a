/**
 * Redaction, proven: phone numbers (mainland and international), emails, ID-card and bank-card
 * numbers sent through the real runtime (`clawgate serve`, one replica over HTTP and one over
 * Stream, against the fake DingTalk) and through the console's tRPC API (safe-mode reasons and
 * message, an approval note) are found in no log line (the runtimes' stdout/stderr at debug level,
 * the console procedures' logger) and in no text, varchar, text[], json or jsonb column of any table
 * in any schema (information_schema), graphile-worker's included.
 *
 * Message content (CONTENT_COLUMNS) is kept to be processed: field encryption stores it as `enc:`
 * ciphertext (CLAWGATE_DATA_KEYS), so the same assertion covers it (CONTENT_ENCRYPTED; with it
 * false the scan asserts those columns do hold the values, which shows the scan works).
 */
// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "./test-caller.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import { applyOnboard, bootstrapCatalog, parseOnboardConfig } from "@clawgate/core";
import { createLogger } from "@clawgate/core/logger.ts";
import { luhnValid } from "@clawgate/core/redact.ts";
import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { startFakeInternalApi, type FakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { newDataKey } from "@clawgate/db/crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTRPCRouter } from "./trpc.ts";
import { approvalRouter } from "./routers/approval.ts";
import { safeModeRouter } from "./routers/safe-mode.ts";

/** Field encryption is on in the runtimes: message content must hold no clear value either. */
const CONTENT_ENCRYPTED = true;
/** The runtimes' data key ring (field encryption at rest). */
const DATA_KEYS = newDataKey("redaction");
/** Columns that hold message content (encrypted at rest by field encryption), as "Table.column". */
const CONTENT_COLUMNS = [
  "InboundMessage.payload",
  "ConversationMemory.summary",
  "ConversationMemory.recent",
  "ApprovalRequest.input",
  "ApprovalRequest.result",
  "OutboundMessage.payload",
  "TurnStep.data",
  "DeadLetter.payload",
  // Tool arguments and results, where field encryption stores them.
  "SkillInvocation.args",
  "SkillInvocation.result",
];

function bankCard(prefix: string, length: number): string {
  const body = prefix.padEnd(length - 1, "7");
  for (let c = 0; c <= 9; c++) if (luhnValid(body + c)) return body + c;
  throw new Error("unreachable");
}
/** The clear values (each also looked for without its spaces and dashes). */
const CLEAR = {
  mobile: "13812345678",
  mobileSpaced: "+86 139 8765 4321",
  e164: "+14155552671",
  e164Spaced: "+44 20 7946 0958",
  email: "zhang.san@example.com",
  email2: "li-si@corp.example.cn",
  idCard: "11010519491231002X",
  card: "4111 1111 1111 1111",
  unionPay: bankCard("622202", 19),
};
const needles = [...new Set(Object.values(CLEAR).flatMap((v) => [v, v.replace(/[ -]/g, "")]))];
const SENTENCES = [
  `call ${CLEAR.mobile} or ${CLEAR.mobileSpaced}`,
  `abroad ${CLEAR.e164} / ${CLEAR.e164Spaced}`,
  `mail ${CLEAR.email}, ${CLEAR.email2}`,
  `身份证${CLEAR.idCard}`,
  `card ${CLEAR.card} and ${CLEAR.unionPay}`,
];
/** Three of the sentences, starting at a different one for each `i` (skill inputs are at most 200 characters). */
const PII = (i: number) => [0, 1, 2].map((k) => SENTENCES[(i + k) % 5]!).join("; ");

const APP_KEY = "ding-redaction-app";
const APP_SECRET = "ding-redaction-secret";
const CONVERSATION = "cid-redaction";
const BIN = path.resolve(import.meta.dirname, "../../../../bot/bin/clawgate.mjs");

// Every line the console's procedures log.
const consoleLines: string[] = [];
const t = routerTest(createTRPCRouter({ safeMode: safeModeRouter, approval: approvalRouter }), {
  prefix: "clawgate_console_redaction",
  dataKeys: DATA_KEYS,
  log: createLogger({
    service: "clawgate-console",
    level: "trace",
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        consoleLines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    }),
  }),
});

interface Serve {
  child: ChildProcess;
  output: string[];
  base: string;
}
const serves: Serve[] = [];
let model: DemoModel;
let api: FakeInternalApi;
let fake: FakeDingTalk;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function startServe(port: number, vars: Record<string, string>): Promise<Serve> {
  // The runtime's env only: nothing of this process's DingTalk or database settings.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(DINGTALK_|LOCAL_MODEL_|PORT$|HOST$|LOG_LEVEL$|METRICS_|DATABASE_URL$|CLAWGATE_DATA_KEYS$)/.test(k),
    ),
  );
  const child = spawn(process.execPath, [BIN, "serve"], {
    env: {
      ...env,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "trace",
      DATABASE_URL: t.url,
      DINGTALK_APP_KEY: APP_KEY,
      DINGTALK_APP_SECRET: APP_SECRET,
      DINGTALK_API_BASE: fake.url,
      DINGTALK_WEBHOOK_HOSTS: new URL(fake.url).host,
      CLAWGATE_AUDIT_SIGNING_KEY: "redaction-test-signing-key-0123456789",
      CLAWGATE_DATA_KEYS: DATA_KEYS,
      METRICS_PORT: "0",
      ...vars,
    } as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const serve: Serve = { child, output: [], base: `http://127.0.0.1:${port}` };
  serves.push(serve);
  child.stdout!.on("data", (c: Buffer) => serve.output.push(c.toString()));
  child.stderr!.on("data", (c: Buffer) => serve.output.push(c.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited: ${serve.output.join("")}`);
    const ok = await fetch(`${serve.base}/ready`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return serve;
    if (Date.now() > deadline) throw new Error(`serve not ready: ${serve.output.join("")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stopServe = (s: Serve) =>
  new Promise<void>((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    s.child.once("exit", () => resolve());
    s.child.kill("SIGTERM");
    setTimeout(() => s.child.kill("SIGKILL"), 10_000).unref();
  });

beforeAll(async () => {
  [model, api] = await Promise.all([startDemoModel({ port: 0 }), startFakeInternalApi({ port: 0 })]);
  const httpPort = await freePort();
  fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    callbackUrl: `http://127.0.0.1:${httpPort}/dingtalk/robot`,
    pingIntervalMs: 0,
  });
  // Migrations only (routerTest), then what `clawgate migrate` and `onboard` do: no demo seed.
  await bootstrapCatalog(t.db);
  const yaml = [
    "models:",
    "  chat: { kind: openai_compatible, base_url: " + model.url + ", model: clawgate-demo }",
    "routing: { defaults: { model: chat } }",
    "conversations:",
    `  - { id: ${CONVERSATION}, title: Support, environment: prod, enabled: true }`,
    "skills:",
    ...["kb.search", "ticket.create"].map((key) => `  - { key: ${key}, settings: { baseUrl: "${api.url}" } }`),
    "users:",
    "  - { email: approver@corp.example, role: approver, dingtalk: { user_id: staff-appr } }",
    "",
  ].join("\n");
  await applyOnboard(t.db, parseOnboardConfig(yaml));
  await startServe(httpPort, { DINGTALK_MODE: "http" });
  await startServe(await freePort(), { DINGTALK_MODE: "stream" });
}, 90_000);

afterAll(async () => {
  await Promise.all(serves.map(stopServe));
  await fake?.close();
  await Promise.all([model?.close(), api?.close()]);
});

/** Every text-like value of every table, as (table.column, text), where a clear value occurs. */
async function scanTables(url: string): Promise<Array<{ column: string; needle: string; sample: string }>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: columns } = await client.query<{ schema: string; table: string; column: string }>(
      `SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column
         FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE t.table_type = 'BASE TABLE'
          AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
          AND (c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')
               OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar', '_json', '_jsonb')))`,
    );
    expect(columns.length).toBeGreaterThan(50);
    const hits: Array<{ column: string; needle: string; sample: string }> = [];
    for (const c of columns) {
      const ident = `"${c.schema}"."${c.table}"`;
      const { rows } = await client.query<{ v: string }>(
        `SELECT "${c.column}"::text AS v FROM ${ident} WHERE "${c.column}"::text LIKE ANY($1)`,
        [needles.map((n) => `%${n.replace(/[\\%_]/g, "\\$&")}%`)],
      );
      for (const r of rows)
        for (const needle of needles)
          if (r.v.includes(needle))
            hits.push({
              column: `${c.schema === "public" ? "" : `${c.schema}.`}${c.table}.${c.column}`,
              needle,
              sample: r.v.slice(0, 200),
            });
    }
    return hits;
  } finally {
    await client.end();
  }
}

describe("redaction at write time", () => {
  it("finds no clear personal data in any log line or any stored text, HTTP, Stream and console alike", async () => {
    // Over HTTP and over Stream: a KB search (the tool's arguments and result), a write that
    // waits for approval (its input), and a question about memory (the reply repeats it).
    const texts = (i: number) => [
      `search the kb for ${PII(i)}`,
      `create a ticket in OPS: ${PII(i + 1)}`,
      `what did I say? ${PII(i + 2)}`,
    ];
    let expected = 0;
    for (const via of ["http", "stream"] as const) {
      for (const [i, text] of texts(via === "http" ? 0 : 3).entries()) {
        const r = await fake.deliver({ conversationId: CONVERSATION, text, senderId: `staff-${via}-${i}`, via });
        if (via === "http") expect(r.status).toBe(200);
        expected += 1;
        await fake.waitForReplies(CONVERSATION, 1, 20_000);
      }
    }
    expect(expected).toBe(6);
    const approvals = await t.db.approvalRequest.findMany({ select: { id: true, status: true } });
    expect(approvals.length).toBeGreaterThanOrEqual(2);

    // The console: safe mode on and off with reasons full of them, an approval rejected with a note.
    const operator = t.as("OPERATOR");
    await operator.safeMode.set({
      active: true,
      reason: `customer ${PII(0)} reported`,
      message: `call ${CLEAR.mobile}`,
    });
    await operator.safeMode.set({ active: false, reason: `resolved with ${PII(2)}` });
    await expect(t.as("VIEWER").safeMode.set({ active: true, reason: `by ${PII(1)}` })).rejects.toMatchObject({
      code: "FORBIDDEN",
    }); // logged
    const approver = await t.asUserWith("APPROVER");
    await approver.approval.decide({ id: approvals[0]!.id, approve: false, note: `not for ${PII(4)}` });

    // The runtimes flush and stop; their whole output is read.
    await Promise.all(serves.map(stopServe));
    const runtimeLines = serves.flatMap((s) => s.output.join("").split("\n").filter(Boolean));
    expect(runtimeLines.length).toBeGreaterThan(20);
    expect(consoleLines.length).toBeGreaterThan(0);
    for (const [i, line] of [...runtimeLines, ...consoleLines].entries())
      for (const needle of needles) expect(line, `log line ${i}`).not.toContain(needle);

    const hits = await scanTables(t.url);
    const content = (h: { column: string }) => CONTENT_COLUMNS.includes(h.column);
    // Everything but message content: nothing, now.
    expect(hits.filter((h) => !content(h))).toEqual([]);
    if (CONTENT_ENCRYPTED) expect(hits.filter(content)).toEqual([]);
    // Not encrypted yet: the content columns do hold the values (the scan sees them).
    else expect(new Set(hits.filter(content).map((h) => h.column)).size).toBeGreaterThanOrEqual(3);

    // The values went through and were masked, not dropped: the masks are there.
    const masked = await t.db.auditLog.findMany({ where: { action: { startsWith: "safe_mode" } } });
    expect(JSON.stringify(masked.map((a) => a.diff))).toContain("[phone]");
    const steps = await t.db.turnStep.findMany();
    expect(JSON.stringify(steps.map((s) => s.data))).toMatch(/\[(phone|email|id-card|bank-card)\]/);
  }, 120_000);
});
