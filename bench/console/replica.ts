/**
 * One runtime "replica" for the config-propagation benchmark, as a child process: the runtime's
 * own policy store (`startPolicyRuntime`: LISTEN on `clawgate_config` + the revision poll) and its
 * heartbeat row (`startHeartbeat`, beating after every reload), wired as `clawgate serve` wires
 * them (apps/bot/src/commands/serve.ts), on a Prisma client of its own. Nothing else of the
 * runtime runs (no ingress, no queue): what is measured is the snapshot reload and the heartbeat.
 *
 * Reports over IPC, with wall-clock times (performance.timeOrigin + now(), comparable across
 * processes on one machine): `ready`, then per change `notified` (the NOTIFY reached a second
 * LISTEN connection of this process: a probe, to split delivery from the snapshot load), `applied`
 * (the new snapshot is installed) and `beat` (the heartbeat row naming that revision is written).
 */
import { startHeartbeat } from "../../apps/bot/src/heartbeat.ts";
import { createLogger } from "../../apps/bot/src/logger.ts";
import { startPolicyRuntime } from "../../apps/bot/src/policy/runtime.ts";
import { CONFIG_CHANNEL } from "../../packages/core/src/revision.ts";
import { createDb } from "../../packages/db/src/index.ts";
import pg from "pg";

export type ReplicaMessage =
  | { type: "ready"; id: string; revision: number }
  | { type: "notified"; revision: number; at: number }
  | { type: "applied"; revision: number; at: number }
  | { type: "beat"; revision: number; at: number };

const url = process.env.DATABASE_URL;
if (!url || !process.send) throw new Error("replica.ts runs as a child of bench/console/run.ts (IPC + DATABASE_URL)");

const wall = () => performance.timeOrigin + performance.now();
const send = (m: ReplicaMessage) => process.send!(m);

const logger = createLogger(process.env.LOG_LEVEL ?? "warn");
// The runtime's Prisma pool is 10; the policy store and the heartbeat use a few of them.
const db = createDb(url, { max: 4, connectionTimeoutMillis: 2_000, applicationName: "bench-console-replica" });
const policy = startPolicyRuntime({ db, databaseUrl: url, logger });
const heartbeat = startHeartbeat({
  db,
  logger,
  mode: "http",
  appliedRevision: () => policy.snapshot()?.revision ?? null,
});

// serve.ts: `policy.store.on("reload", () => void heartbeat.beat())`; the same, with timestamps.
policy.store.on("reload", (snapshot) => {
  const revision = snapshot.revision;
  send({ type: "applied", revision, at: wall() });
  void heartbeat.beat().then(() => send({ type: "beat", revision, at: wall() }));
});

const probe = new pg.Client({ connectionString: url, application_name: "bench-console-probe" });
probe.on("notification", (n) => send({ type: "notified", revision: Number(n.payload), at: wall() }));
await probe.connect();
await probe.query(`LISTEN ${CONFIG_CHANNEL}`);

await policy.loaded;
await heartbeat.beat();
send({ type: "ready", id: heartbeat.id, revision: policy.store.revision });

process.on("message", (m: unknown) => {
  if (m !== "stop") return;
  void (async () => {
    await probe.end();
    await heartbeat.stop();
    await policy.stop();
    await db.$disconnect();
    process.exit(0);
  })();
});
// The parent died without saying stop: do not linger.
process.on("disconnect", () => process.exit(0));
