/**
 * A runtime's current policy snapshot, kept fresh without touching the decision path.
 * NOTIFY on `clawgate_config` (a dedicated `pg` client, reconnected after any error) makes a
 * change live within milliseconds; polling the latest revision covers lost notifications and
 * reconnect windows. A failed reload keeps the last good snapshot: the runtime goes on enforcing
 * the policy it has rather than none.
 */
import { EventEmitter } from "node:events";
import { StorableClient, type Db } from "@clawgate/db";
import type pg from "pg";
import { CONFIG_CHANNEL } from "../revision.ts";
import { loadPolicySnapshot, type PolicySnapshot } from "./snapshot.ts";

export interface PolicyStoreOptions {
  db: Db;
  /** Connection string for the LISTEN client (a pooled connection cannot hold a LISTEN). */
  databaseUrl: string;
  pollIntervalMs?: number;
  reconnectDelayMs?: number;
  /** Defaults to `loadPolicySnapshot` (given the current snapshot, it reads only the rules changed since). */
  load?: (db: Db, previous?: PolicySnapshot) => Promise<PolicySnapshot>;
}

export interface PolicyStoreEvents {
  reload: [snapshot: PolicySnapshot, previousRevision: number];
  reloadError: [error: unknown];
  listenError: [error: unknown];
  listening: [];
}

export const LISTENER_APPLICATION_NAME = "clawgate-policy-listener";

export class PolicyStore extends EventEmitter<PolicyStoreEvents> {
  private snapshot: PolicySnapshot | null = null;
  private listener: pg.Client | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly pollIntervalMs: number;
  private readonly reconnectDelayMs: number;
  private readonly load: (db: Db, previous?: PolicySnapshot) => Promise<PolicySnapshot>;

  constructor(private readonly opts: PolicyStoreOptions) {
    super();
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    this.reconnectDelayMs = opts.reconnectDelayMs ?? 1_000;
    this.load = opts.load ?? loadPolicySnapshot;
  }

  /** Loads the first snapshot (throws if it cannot: a runtime without policy is not ready). */
  async start(): Promise<void> {
    if (this.pollTimer) throw new Error("PolicyStore already started");
    this.stopped = false;
    this.snapshot = await this.load(this.opts.db);
    // A LISTEN that cannot connect is not fatal: it retries, and the poll keeps the snapshot fresh.
    await this.listen();
    this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  current(): PolicySnapshot {
    if (!this.snapshot) throw new Error("PolicyStore.current() before start()");
    return this.snapshot;
  }

  get revision(): number {
    return this.snapshot?.revision ?? -1;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.pollTimer = this.reconnectTimer = null;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.inFlight;
  }

  /** Reloads now; concurrent calls coalesce into at most one more load after the running one. */
  reload(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      do {
        this.again = false;
        try {
          const next = await this.load(this.opts.db, this.snapshot ?? undefined);
          const previous = this.revision;
          // A slow load must not replace a newer snapshot that another load already installed.
          if (!this.stopped && next.revision >= previous) {
            this.snapshot = next;
            if (next.revision !== previous) this.emit("reload", next, previous);
          }
        } catch (error) {
          this.emit("reloadError", error);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async poll(): Promise<void> {
    try {
      const latest = await this.opts.db.configRevision.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
      if ((latest?.id ?? 0) > this.revision) await this.reload();
    } catch (error) {
      this.emit("reloadError", error);
    }
  }

  private async listen(): Promise<void> {
    // Storable like every connection (it only LISTENs, but no client is made another way).
    const client = new StorableClient({
      connectionString: this.opts.databaseUrl,
      application_name: LISTENER_APPLICATION_NAME,
    });
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      if (this.listener === client) this.listener = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.emit("listenError", error);
      this.reconnectTimer = setTimeout(() => void this.listen(), this.reconnectDelayMs);
      this.reconnectTimer.unref();
    };
    client.on("error", fail);
    client.on("end", () => fail(new Error("LISTEN connection ended")));
    client.on("notification", (n) => {
      if (n.channel === CONFIG_CHANNEL && Number(n.payload) > this.revision) void this.reload();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CONFIG_CHANNEL}`);
      if (this.stopped) return void (await client.end());
      this.listener = client;
      this.emit("listening");
      // Changes committed while no LISTEN was active sent their NOTIFY to nobody.
      void this.poll();
    } catch (error) {
      fail(error);
    }
  }
}
