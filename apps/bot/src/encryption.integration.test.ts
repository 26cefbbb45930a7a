/**
 * Field encryption at rest through the real runtime (ingress, queue, agent with the demo model,
 * approvals): afterwards no text or json column of any table holds a message, a memory, a tool
 * input or a reply in clear. Key rotation re-encrypts everything while the runtime keeps
 * answering, stops and resumes, and a ring without the key a value needs is a clear error.
 */
import type { Actor } from "@clawgate/core";
import { decideApproval } from "@clawgate/core/approvals.ts";
import { dataKeyStatus, rotateDataKeys } from "@clawgate/core/data-keys.ts";
import { createDb, newDataKey, parseKeyRing, type KeyRing } from "@clawgate/db";
import { describe, expect, it } from "vitest";
import { query } from "../test/helpers.ts";
import { useBotHarness } from "../test/harness.ts";

const K1 = newDataKey("k1");
const K2 = newDataKey("k2");
const ring = (spec: string) => parseKeyRing(spec)!;

/** The runtime's ring, swapped as a rolling restart with a new CLAWGATE_DATA_KEYS would. */
let active = ring(K1);
const runtimeRing: KeyRing = {
  get current() {
    return active.current;
  },
  get ids() {
    return active.ids;
  },
  has: (id) => active.has(id),
  key: (id) => active.key(id),
};

const TAG = `PLUMBUS${Date.now().toString(36).toUpperCase()}`;
const PHONE = "13912345678";

const h = useBotHarness({
  name: "encryption",
  dbOptions: { dataKeys: runtimeRing },
  demoModel: true,
  internalApi: true,
  seed: "demo-model",
  ingress: true,
  policy: true,
  conversations: ["cid-enc", "cid-enc-ticket", "cid-enc-rotate"],
  queue: true,
});

/** Every text, varchar and json(b) column of every table outside the catalogs, as text rows. */
async function everyTextValue(): Promise<{ where: string; value: string }[]> {
  const columns = await query<{ schema: string; table: string; column: string }>(
    h.testDb.url,
    `SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column
       FROM information_schema.columns c JOIN information_schema.tables t
         ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
        AND c.data_type IN ('text', 'character varying', 'json', 'jsonb', 'ARRAY')`,
  );
  const out: { where: string; value: string }[] = [];
  for (const c of columns) {
    const rows = await query<{ v: string | null }>(
      h.testDb.url,
      `SELECT "${c.column}"::text AS v FROM "${c.schema}"."${c.table}" WHERE "${c.column}" IS NOT NULL`,
    );
    for (const r of rows) if (r.v) out.push({ where: `${c.schema}.${c.table}.${c.column}`, value: r.v });
  }
  return out;
}

const SYSTEM: Actor = { type: "SYSTEM", name: "encryption test" };

describe("encryption at rest through the runtime", () => {
  const replies: string[] = [];

  it("stores no message, memory, tool input or reply in clear", async () => {
    for (const [i, text] of [`my number is ${PHONE}, remember ${TAG}`, `what did I say about ${TAG}?`].entries()) {
      const { status } = await h.fake.deliver({ conversationId: "cid-enc", text, senderId: "user-enc" });
      expect(status).toBe(200);
      const [reply] = await h.fake.waitForReplies("cid-enc", 1, 20_000);
      replies.push(reply!.text);
      expect(i === 0 || reply!.text.length > 0).toBe(true);
    }
    // A write skill: the approval request's input and result, the tool's steps.
    await h.fake.deliver({
      conversationId: "cid-enc-ticket",
      text: `create a ticket in OPS: ${TAG} printer`,
      senderId: "user-enc",
    });
    const [waiting] = await h.fake.waitForReplies("cid-enc-ticket", 1, 20_000);
    expect(waiting!.text.toLowerCase()).toContain("waits for approval");
    const request = await h.db.approvalRequest.findFirstOrThrow({ where: { conversationId: "cid-enc-ticket" } });
    // Read through Prisma: plaintext, transparently.
    expect(request.input).toMatchObject({ project: "OPS", title: `${TAG} printer` });
    const user = await h.db.user.findFirstOrThrow({ where: { role: "APPROVER" } });
    await decideApproval(
      h.db,
      { type: "USER", id: user.id, name: user.email ?? user.id },
      { id: request.id, approve: true },
    );
    const [done] = await h.fake.waitForReplies("cid-enc-ticket", 1, 20_000);
    replies.push(waiting!.text, done!.text);
    const executed = await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } });
    expect(executed.result).toMatchObject({ ok: true });

    const memory = await h.db.conversation.findUniqueOrThrow({
      where: { conversationId: "cid-enc" },
      include: { memory: true },
    });
    expect(JSON.stringify(memory.memory?.recent)).toContain(TAG);
    const inbound = await h.db.inboundMessage.findMany({
      where: { conversationId: "cid-enc" },
      include: { steps: true },
    });
    expect(JSON.stringify(inbound.map((m) => m.payload))).toContain(PHONE);

    // Long enough to be the reply's own words, not a stock phrase the seed also holds.
    const needles = [TAG, PHONE, ...replies.map((r) => r.slice(0, 40)).filter((r) => r.length >= 20)];
    const leaks = (await everyTextValue()).flatMap(({ where, value }) =>
      needles.filter((n) => value.includes(n)).map((n) => `${where} holds "${n}"`),
    );
    expect(leaks).toEqual([]);
    const counts = await dataKeyStatus(h.pool);
    expect(counts.filter((c) => c.keyId !== "k1")).toEqual([]);
    expect(counts.map((c) => c.column)).toEqual(
      expect.arrayContaining([
        "InboundMessage.payload",
        "OutboundMessage.payload",
        "ConversationMemory.summary",
        "ConversationMemory.recent",
        "ApprovalRequest.input",
        "ApprovalRequest.result",
        "TurnStep.data",
      ]),
    );
  });

  it("rotates every value to the new key while the runtime keeps answering; stops and resumes", async () => {
    // The rolling restart: every replica now has k1,k2 (k2 encrypts, k1 still decrypts).
    active = ring(`${K1},${K2}`);
    const rotateRing = ring(`${K1},${K2}`);
    const before = await dataKeyStatus(h.pool);
    const onOld = before.filter((c) => c.keyId === "k1").reduce((n, c) => n + c.rows, 0);
    expect(onOld).toBeGreaterThan(5);

    // Stopped after its first batch (the signal an operator's Ctrl-C gives): incomplete, nothing lost.
    const controller = new AbortController();
    const first = await rotateDataKeys(h.db, h.pool, rotateRing, SYSTEM, {
      batch: 2,
      signal: controller.signal,
      onBatch: () => controller.abort(),
    });
    expect(first.complete).toBe(false);
    expect(Object.values(first.rotated).reduce((a, b) => a + b, 0)).toBe(2);

    // The rest while messages keep arriving and being answered.
    const talk = (async () => {
      const answered: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { status } = await h.fake.deliver({
          conversationId: "cid-enc-rotate",
          text: `during rotation ${i} ${TAG}`,
        });
        expect(status).toBe(200);
        const [reply] = await h.fake.waitForReplies("cid-enc-rotate", 1, 20_000);
        answered.push(reply!.text);
      }
      return answered;
    })();
    const rest = await rotateDataKeys(h.db, h.pool, rotateRing, SYSTEM, { batch: 3, pauseMs: 20 });
    expect(rest.complete).toBe(true);
    expect(await talk).toHaveLength(4);

    const after = await dataKeyStatus(h.pool);
    expect(after.filter((c) => c.keyId !== "k2")).toEqual([]);
    const audit = await h.db.auditLog.findMany({ where: { targetType: "data_keys" }, orderBy: { id: "asc" } });
    expect(audit.map((a) => a.action)).toEqual([
      "data_keys.rotate_start",
      "data_keys.rotate",
      "data_keys.rotate_start",
      "data_keys.rotate",
    ]);
    expect(audit.at(-1)!.diff).toMatchObject({ keyId: "k2", complete: true });

    // k1 can now leave the ring: everything reads with k2 alone.
    const k2only = createDb(h.testDb.url, { max: 1, dataKeys: ring(K2) });
    const k1only = createDb(h.testDb.url, { max: 1, dataKeys: ring(K1) });
    try {
      const all = await k2only.inboundMessage.findMany({ select: { payload: true } });
      expect(JSON.stringify(all)).toContain(PHONE);
      // The wrong ring: a clear error naming the key, never ciphertext handed on as if it were text.
      await expect(k1only.conversationMemory.findMany()).rejects.toThrow(
        /encrypted with data key "k2", which CLAWGATE_DATA_KEYS does not hold \(it holds k1\)/,
      );
    } finally {
      await k2only.$disconnect();
      await k1only.$disconnect();
    }
  });

  it("refuses to rotate while a stored key is missing from the ring, changing nothing", async () => {
    await expect(rotateDataKeys(h.db, h.pool, ring(newDataKey("k3")), SYSTEM)).rejects.toThrow(
      /encrypted under data key\(s\) k2, which CLAWGATE_DATA_KEYS does not hold/,
    );
    expect((await dataKeyStatus(h.pool)).filter((c) => c.keyId !== "k2")).toEqual([]);
  });
});
