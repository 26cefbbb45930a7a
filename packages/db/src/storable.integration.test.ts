import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Relative import: a package dependency on devstack would make a cycle (devstack uses db).
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { classifyDbError, createDb, createStorablePool, type Db } from "./index.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_storable" });
  db = createDb(tdb.url, { max: 2 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const HOSTILE = "a\u0000b\ud800c\udfff 👩‍💻 \u202e";
const STORED = "ab\ufffdc\ufffd 👩‍💻 \u202e";

describe("the storage boundary (real PostgreSQL)", () => {
  it("stores NUL and lone surrogates through Prisma: text, Json and raw parameters", async () => {
    const row = await db.inboundMessage.create({
      data: {
        robotCode: "r",
        msgId: `m${HOSTILE}`,
        channel: "HTTP",
        conversationId: "c",
        senderId: "s",
        msgType: "text",
        payload: { text: { content: HOSTILE }, [`k${HOSTILE}`]: [HOSTILE] },
        traceId: "t",
        error: HOSTILE,
      },
    });
    expect(row.msgId).toBe(`m${STORED}`);
    expect(row.error).toBe(STORED);
    expect(row.payload).toEqual({ text: { content: STORED }, [`k${STORED}`]: [STORED] });
    const [raw] = await db.$queryRaw<
      { t: string; j: unknown }[]
    >`SELECT ${HOSTILE}::text AS t, ${JSON.stringify({ x: HOSTILE })}::jsonb AS j`;
    expect(raw).toEqual({ t: STORED, j: { x: STORED } });
  });

  it("stores them through a storable pg pool, in a transaction too", async () => {
    const pool = createStorablePool({ connectionString: tdb.url, max: 1 });
    try {
      const { rows } = await pool.query<{ t: string; j: unknown; a: string[] }>(
        "SELECT $1::text AS t, $2::jsonb AS j, $3::text[] AS a",
        [HOSTILE, JSON.stringify([HOSTILE]), [HOSTILE]],
      );
      expect(rows[0]).toEqual({ t: STORED, j: [STORED], a: [STORED] });
      const client = await pool.connect();
      try {
        const res = await client.query({ text: "SELECT $1::text AS t", values: [HOSTILE] });
        expect(res.rows[0]).toEqual({ t: STORED });
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("classifies database errors: data is the message's fault, connection failures are unavailable", async () => {
    const error = (p: Promise<unknown>) =>
      p.then(
        () => expect.unreachable("no error"),
        (e: unknown) => e,
      );
    const pool = createStorablePool({ connectionString: tdb.url, max: 1 });
    try {
      expect(classifyDbError(await error(pool.query("SELECT 1/0")))).toBe("data");
      expect(classifyDbError(await error(pool.query("SELECT 'x'::int")))).toBe("data");
      expect(classifyDbError(await error(pool.query("SELEC 1")))).toBe("other");
      const timeout = pool.query("SET statement_timeout = 50; SELECT pg_sleep(1)");
      expect(classifyDbError(await error(timeout))).toBe("unavailable");
    } finally {
      await pool.end();
    }
    const dup = {
      robotCode: "r",
      msgId: "dup",
      channel: "HTTP" as const,
      conversationId: "c",
      senderId: "s",
      msgType: "text",
      payload: {},
      traceId: "t",
    };
    await db.inboundMessage.create({ data: dup });
    expect(classifyDbError(await error(db.inboundMessage.create({ data: dup })))).toBe("data");
    const down = createStorablePool({
      connectionString: "postgresql://postgres@127.0.0.1:1/x",
      connectionTimeoutMillis: 500,
    });
    expect(classifyDbError(await error(down.query("SELECT 1")))).toBe("unavailable");
    await down.end();
    const downDb = createDb("postgresql://postgres@127.0.0.1:1/x", { connectionTimeoutMillis: 500 });
    expect(classifyDbError(await error(downDb.inboundMessage.count()))).toBe("unavailable");
    await downDb.$disconnect();
  });
});
