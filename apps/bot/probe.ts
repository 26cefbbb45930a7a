import { createDb } from "@clawgate/db";
import { buildServer } from "./src/server.ts";
import { createLogger } from "./src/logger.ts";
for (const url of ["postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:1/test"]) {
const db = createDb(url, { connectionTimeoutMillis: 1000 });
const app = buildServer({ env: { DINGTALK_MODE: "http" }, db, logger: createLogger("debug") });
const t = Date.now();
const r = await app.inject({ url: "/ready", headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
console.log(Date.now() - t, r.statusCode, r.headers["x-request-id"], r.body);
const m = await app.inject({ url: "/metrics?sign=SECRET" });
console.log(m.statusCode, m.body.split("\n").filter(l => l.includes("http_request")).slice(0, 3));
const n = await app.inject({ method: "POST", url: "/nope?sign=SECRET", payload: { a: 1 } });
console.log(n.statusCode);
await app.close(); await db.$disconnect();
}
