/**
 * The floor for the ingress benchmark: a bare node:http server doing the same one-row insert
 * the runtime does per message (InboundMessage keyed on robotCode + msgId, duplicate = no-op),
 * with none of the runtime's work (no signature check, no schema, no queue, no framework).
 * Usage: tsx floor.ts <port>   (DATABASE_URL in env)
 */
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import pg from "pg";

const port = Number(process.argv[2] ?? 8099);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const INSERT = `INSERT INTO "InboundMessage" ("id", "robotCode", "msgId", "channel", "conversationId", "senderId", "msgType", "payload", "traceId")
  VALUES ($1, $2, $3, 'HTTP', $4, $5, $6, $7, $8) ON CONFLICT ("robotCode", "msgId") DO NOTHING`;

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let msg: Record<string, string>;
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const traceId = randomUUID();
    pool
      .query(INSERT, [
        traceId,
        msg.robotCode,
        msg.msgId,
        msg.conversationId,
        msg.senderStaffId ?? "",
        msg.msgtype,
        msg,
        traceId,
      ])
      .then(() => res.writeHead(200, { "content-type": "application/json" }).end('{"msgtype":"empty"}'))
      .catch(() => res.writeHead(503).end());
  });
}).listen(port, "127.0.0.1", () => console.log(`READY ${port}`));
