import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { maskPersonalData } from "./personal-data.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import {
  createDb,
  createStorablePool,
  DataKeyError,
  dataKeysOf,
  keyIdOf,
  newDataKey,
  parseKeyRing,
  type Db,
} from "./index.ts";

const K1 = newDataKey("k1");
const K2 = newDataKey("k2");
const SECRET = "call 13800138000 about ticket ABC-42";

let tdb: TestDatabase;
let db: Db;
let plain: Db;
/** What the database holds, read without the client. */
let pool: pg.Pool;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_crypto" });
  db = createDb(tdb.url, { max: 2, dataKeys: parseKeyRing(K1) });
  plain = createDb(tdb.url, { max: 1 });
  pool = createStorablePool({ connectionString: tdb.url, max: 1 });
});
afterAll(async () => {
  await db?.$disconnect();
  await plain?.$disconnect();
  await pool?.end();
  await tdb?.drop();
});

const message = (msgId: string) => ({
  robotCode: "r",
  msgId,
  channel: "HTTP" as const,
  conversationId: "c",
  senderId: "s",
  msgType: "text",
  payload: { msgtype: "text", text: { content: SECRET } },
  traceId: "t",
});

describe("field encryption through the Prisma client (real PostgreSQL)", () => {
  it("stores ciphertext and reads plaintext: create, createMany, update, upsert, include, transactions, raw reads", async () => {
    const created = await db.inboundMessage.create({ data: message("m1") });
    expect(created.payload).toEqual(message("m1").payload);
    await db.inboundMessage.createMany({ data: [message("m2"), message("m3")] });
    await db.$transaction(async (tx) => {
      await tx.conversation.create({ data: { id: "conv1", conversationId: "c", title: "t", type: "GROUP" } });
      await tx.conversationMemory.create({
        data: { conversationId: "conv1", summary: SECRET, tokens: 1, recent: [{ role: "user", content: SECRET }] },
      });
    });
    await db.conversationMemory.update({
      where: { conversationId: "conv1" },
      data: { summary: { set: `${SECRET}!` } },
    });
    await db.turnStep.upsert({
      where: { inboundMessageId_seq: { inboundMessageId: created.id, seq: 0 } },
      create: { inboundMessageId: created.id, seq: 0, kind: "model", data: { content: SECRET } },
      update: {},
    });

    const raw = await db.$queryRawUnsafe<{ text: string }[]>(
      `SELECT "payload"::text AS text FROM "InboundMessage"
       UNION ALL SELECT "summary" || "recent"::text FROM "ConversationMemory"
       UNION ALL SELECT "data"::text FROM "TurnStep"`,
    );
    // The raw query's rows are opened too: text the database holds is read with the plain client.
    const { rows: stored } = await pool.query<{ text: string }>(
      `SELECT "payload"::text AS text FROM "InboundMessage"
       UNION ALL SELECT "summary" || "recent"::text FROM "ConversationMemory"
       UNION ALL SELECT "data"::text FROM "TurnStep"`,
    );
    expect(raw).toHaveLength(5);
    for (const { text } of stored) {
      expect(text).not.toContain("13800138000");
      expect(text).toMatch(/enc:(v1|j1):k1:/);
    }

    const conv = await db.conversation.findUnique({ where: { id: "conv1" }, include: { memory: true } });
    expect(conv?.memory?.summary).toBe(`${SECRET}!`);
    expect(conv?.memory?.recent).toEqual([{ role: "user", content: SECRET }]);
    const withSteps = await db.inboundMessage.findUnique({ where: { id: created.id }, include: { steps: true } });
    // Turn steps are free text as well: personal data in them is masked before they are sealed.
    expect(withSteps?.steps[0]?.data).toEqual({ content: maskPersonalData(SECRET) });
    const rawRows = await db.$queryRaw<
      { payload: unknown }[]
    >`SELECT "payload" FROM "InboundMessage" WHERE "id" = ${created.id}`;
    expect(rawRows[0]?.payload).toEqual(message("m1").payload);
    expect(dataKeysOf(db)?.current).toBe("k1");
  });

  it("decrypts values of every key of the ring, encrypts with the newest", async () => {
    const both = createDb(tdb.url, { max: 1, dataKeys: parseKeyRing(`${K1},${K2}`) });
    try {
      const row = await both.inboundMessage.create({ data: message("m-k2") });
      const {
        rows: [stored],
      } = await pool.query<{ payload: unknown }>(`SELECT "payload" FROM "InboundMessage" WHERE "id" = $1`, [row.id]);
      expect(keyIdOf(stored?.payload)).toBe("k2");
      const all = await both.inboundMessage.findMany({ select: { payload: true } });
      for (const m of all) expect(m.payload).toEqual(message("x").payload);
    } finally {
      await both.$disconnect();
    }
  });

  it("a missing or wrong key is a clear error, not garbage", async () => {
    await expect(plain.inboundMessage.findFirst({ where: { msgId: "m1" } })).rejects.toThrow(
      /encrypted with data key "k1" and CLAWGATE_DATA_KEYS is not set/,
    );
    const wrong = createDb(tdb.url, { max: 1, dataKeys: parseKeyRing(newDataKey("k1")) });
    const other = createDb(tdb.url, { max: 1, dataKeys: parseKeyRing(K2) });
    try {
      await expect(wrong.inboundMessage.findFirst({ where: { msgId: "m1" } })).rejects.toThrow(
        /does not decrypt: the key "k1" in CLAWGATE_DATA_KEYS is not the one/,
      );
      await expect(other.inboundMessage.findFirst({ where: { msgId: "m1" } })).rejects.toThrow(
        /data key "k1", which CLAWGATE_DATA_KEYS does not hold \(it holds k2\)/,
      );
    } finally {
      await wrong.$disconnect();
      await other.$disconnect();
    }
  });

  it("refuses a malformed ring with the entry that is wrong", () => {
    expect(() => parseKeyRing("k1")).toThrow(DataKeyError);
    expect(() => parseKeyRing("k1:c2hvcnQ=")).toThrow(/key "k1" is 5 bytes; AES-256 needs 32/);
    expect(() => parseKeyRing(`${K1},${K1}`)).toThrow(/appears twice/);
    expect(parseKeyRing("")).toBeNull();
  });
});
