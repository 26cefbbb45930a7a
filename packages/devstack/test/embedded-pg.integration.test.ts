// The zero-setup database behind `npm start` / `npm test` on a machine with no PostgreSQL.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../src/embedded-pg.ts";
import { ensureDatabase } from "../src/pg-admin.ts";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const parent = mkdtempSync(path.join(tmpdir(), "clawgate-epg-"));
chmodSync(parent, 0o755); // as root, PostgreSQL runs as `postgres`, which must enter this folder
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe("embedded PostgreSQL", () => {
  it("initialises a UTF-8 cluster, keeps data across restarts", async () => {
    const dataDir = path.join(parent, "pg");
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port });
    try {
      await ensureDatabase(first.serverUrl, "clawgate");
      await ensureDatabase(first.serverUrl, "clawgate"); // idempotent
      const url = first.urlFor("clawgate");
      expect(await query(url, "SHOW server_encoding")).toEqual([{ server_encoding: "UTF8" }]);
      await query(url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('钉钉 robot')");
    } finally {
      await first.stop();
    }
    const second = await startEmbeddedPostgres({ dataDir, port });
    try {
      expect(await query(second.urlFor("clawgate"), "SELECT v FROM kept")).toEqual([{ v: "钉钉 robot" }]);
    } finally {
      await second.stop();
    }
  });
});
