/**
 * The bot's integration-test harness: what a test file runs the runtime against, set up once in
 * its beforeAll and torn down (in reverse) in its afterAll, instead of the same module-level
 * `let`s and hooks in every file.
 *
 *   const h = useBotHarness({ name: "agent", demoModel: true, seed: "demo-model", ingress: true,
 *     policy: true, conversations: ["cid-a"], queue: true });
 *   it("...", async () => { await h.fake.deliver(...); ... h.db ... });
 *
 * Each part is asked for by an option; reading one that was not asked for, or before the
 * beforeAll ran, throws and says which. The order is fixed: a fresh migrated database (Prisma
 * client `db`), the fake model(s) and internal API, the demo seed pointing at them, a pg pool with
 * the queue schema, the HTTP ingress with a fake DingTalk delivering to it (or a fake DingTalk on
 * its own), the policy runtime, the enabled conversations, the file's own `setup`, the queue(s).
 * A file's own afterAll, registered after this call, runs before the harness's teardown.
 */
import { seedDemo } from "@clawgate/core";
import { createDb, dataKeysOf, type Db } from "@clawgate/db";
import { startDemoModel, type DemoModel } from "@clawgate/devstack/demo-model";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { startFakeInternalApi, type FakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll } from "vitest";
import type { Agent } from "../src/agent/index.ts";
import { createPgPool } from "../src/db-pool.ts";
import { createIngest, type Ingest } from "../src/ingress/ingest.ts";
import { createLogger, type Logger } from "../src/logger.ts";
import { createMetrics, type Metrics } from "../src/metrics.ts";
import { startPolicyRuntime, type PolicyRuntime } from "../src/policy/runtime.ts";
import { buildServer, type BotServer } from "../src/server.ts";
import { prepareQueueSchema, type Queue, type QueueEnv } from "../src/worker/queue.ts";
import { APP_KEY, APP_SECRET } from "./dingtalk.ts";
import { enableConversations } from "./policy.ts";
import { queueEnv, startTestQueue } from "./queue.ts";
import { startScriptedModel, type ScriptedModel } from "./scripted-model.ts";

export interface BotHarnessOptions {
  /** Names the test database (`clawgate_bot_<name>_…`) and the pool's application_name (`test-<name>`). */
  name: string;
  /** Options of the Prisma client (default: createDb's); `dataKeys` turns field encryption on (the ingress too). */
  dbOptions?: Parameters<typeof createDb>[1];
  /** The demo model (devstack) as `model`. */
  demoModel?: boolean;
  /** The scripted model (test/scripted-model.ts) as `scripted`. */
  scriptedModel?: boolean;
  /** The fake internal API as `api`; an object is its options (articles…). */
  internalApi?: boolean | Omit<Parameters<typeof startFakeInternalApi>[0], "port">;
  /** `seedDemo` with that model as every conversation's model (and the internal API, when started). */
  seed?: "demo-model" | "scripted-model";
  /** A pg pool (`pool`) with graphile-worker's schema prepared; implied by `ingress`. */
  pool?: boolean | { max?: number; statementTimeoutMs?: number };
  /** The runtime's HTTP ingress (`app`, `base`, `ingest`) with a fake DingTalk (`fake`) delivering to it. */
  ingress?: boolean;
  /** A fake DingTalk (`fake`) without an ingress to deliver to (its OpenAPI and webhooks only). */
  fakeDingtalk?: boolean;
  /** The policy runtime (`policy`); NOTIFY drives it, its poll is 10 minutes unless given. */
  policy?: boolean | { pollIntervalMs?: number };
  /** Conversations enabled (with the policy applied) before `setup` and the queue. */
  conversations?: string[];
  /** The file's own steps once the parts above are up (config changes, rows, an agent to build). */
  setup?: (h: BotHarness) => Promise<void>;
  /** The real queue (`queue`, `queues`) against the fake DingTalk, started last. */
  queue?: boolean | { concurrency?: number; replicas?: number; agent?: (h: BotHarness) => Agent };
}

export interface BotHarness {
  readonly testDb: TestDatabase;
  readonly db: Db;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly model: DemoModel;
  readonly scripted: ScriptedModel;
  readonly api: FakeInternalApi;
  readonly pool: pg.Pool;
  readonly ingest: Ingest;
  readonly app: BotServer;
  /** The ingress's base URL. */
  readonly base: string;
  readonly fake: FakeDingTalk;
  readonly policy: PolicyRuntime;
  /** The first queue. */
  readonly queue: Queue;
  readonly queues: Queue[];
  /** The agent the queue runs, when `queue.agent` made one. */
  readonly agent: Agent;
  /** The queue settings the harness's queues use (the fake's OpenAPI and webhook host). */
  queueEnv(concurrency?: number): QueueEnv;
}

const POLICY_POLL_MS = 10 * 60_000;

/** Registers the beforeAll/afterAll that set up and tear down what `opts` asks for; see the file header. */
export function useBotHarness(opts: BotHarnessOptions): BotHarness {
  const parts: Partial<Record<keyof BotHarness, unknown>> = {
    logger: createLogger("silent"),
    metrics: createMetrics(),
  };
  const teardown: (() => Promise<unknown>)[] = [];
  const queues: Queue[] = [];

  const get =
    <K extends keyof BotHarness>(key: K, option: string) =>
    (): BotHarness[K] => {
      const value = parts[key];
      if (value === undefined)
        throw new Error(`the bot harness has no ${key} (yet): it needs ${option}, and is there from beforeAll on`);
      return value as BotHarness[K];
    };

  const h: BotHarness = {
    get testDb() {
      return get("testDb", "nothing")();
    },
    get db() {
      return get("db", "nothing")();
    },
    get logger() {
      return get("logger", "nothing")();
    },
    get metrics() {
      return get("metrics", "nothing")();
    },
    get model() {
      return get("model", "demoModel: true")();
    },
    get scripted() {
      return get("scripted", "scriptedModel: true")();
    },
    get api() {
      return get("api", "internalApi")();
    },
    get pool() {
      return get("pool", "pool or ingress")();
    },
    get ingest() {
      return get("ingest", "ingress: true")();
    },
    get app() {
      return get("app", "ingress: true")();
    },
    get base() {
      return get("base", "ingress: true")();
    },
    get fake() {
      return get("fake", "ingress or fakeDingtalk")();
    },
    get policy() {
      return get("policy", "policy")();
    },
    get queue() {
      return get("queue", "queue")();
    },
    get queues() {
      return get("queues", "queue")();
    },
    get agent() {
      return get("agent", "queue.agent")();
    },
    queueEnv: (concurrency = 2) => queueEnv(h.testDb.url, h.fake.url, concurrency),
  };

  beforeAll(async () => {
    const testDb = await createTestDatabase({ prefix: `clawgate_bot_${opts.name.replaceAll("-", "_")}` });
    parts.testDb = testDb;
    teardown.push(() => testDb.drop());
    const db = createDb(testDb.url, opts.dbOptions);
    parts.db = db;
    teardown.push(() => db.$disconnect());

    await Promise.all([
      opts.demoModel &&
        startDemoModel({ port: 0 }).then((model) => {
          parts.model = model;
          teardown.push(() => model.close());
        }),
      opts.scriptedModel &&
        startScriptedModel().then((scripted) => {
          parts.scripted = scripted;
          teardown.push(() => scripted.close());
        }),
      opts.internalApi &&
        startFakeInternalApi({ ...(opts.internalApi === true ? {} : opts.internalApi), port: 0 }).then((api) => {
          parts.api = api;
          teardown.push(() => api.close());
        }),
    ]);
    if (opts.seed) {
      const modelBaseUrl = opts.seed === "demo-model" ? h.model.url : h.scripted.url;
      await seedDemo(db, { modelBaseUrl, ...(opts.internalApi ? { internalApiBaseUrl: h.api.url } : {}) });
    }

    if (opts.pool || opts.ingress) {
      const { max, statementTimeoutMs } = typeof opts.pool === "object" ? opts.pool : {};
      const pool = createPgPool(testDb.url, {
        applicationName: `test-${opts.name}`,
        ...(max ? { max } : {}),
        ...(statementTimeoutMs ? { statementTimeoutMs } : {}),
      });
      parts.pool = pool;
      teardown.push(() => pool.end());
      await prepareQueueSchema(pool);
    }
    if (opts.ingress) {
      const ingest = createIngest({ pool: h.pool, robotCode: APP_KEY, keys: dataKeysOf(db) });
      const env = { DINGTALK_MODE: "http" as const, DINGTALK_APP_KEY: APP_KEY, DINGTALK_APP_SECRET: APP_SECRET };
      const app = buildServer({ env, db, logger: h.logger, metrics: h.metrics, ingest });
      teardown.push(() => app.close());
      const base = await app.listen({ host: "127.0.0.1", port: 0 });
      Object.assign(parts, { ingest, app, base });
    }
    if (opts.ingress || opts.fakeDingtalk) {
      const fake = await startFakeDingTalk({
        port: 0,
        appKey: APP_KEY,
        appSecret: APP_SECRET,
        // Without an ingress the fake still needs somewhere to deliver: nowhere (port 1 refuses).
        callbackUrl: opts.ingress ? `${h.base}/dingtalk/robot` : "http://127.0.0.1:1/unused",
      });
      parts.fake = fake;
      teardown.push(() => fake.close());
    }

    if (opts.policy) {
      const { pollIntervalMs = POLICY_POLL_MS } = typeof opts.policy === "object" ? opts.policy : {};
      const policy = startPolicyRuntime({ db, databaseUrl: testDb.url, logger: h.logger, pollIntervalMs });
      parts.policy = policy;
      teardown.push(() => policy.stop());
      await policy.loaded;
    }
    if (opts.conversations?.length) await enableConversations(db, h.policy, ...opts.conversations);
    await opts.setup?.(h);

    if (opts.queue) {
      const { concurrency = 2, replicas = 1, agent } = typeof opts.queue === "object" ? opts.queue : {};
      const env = h.queueEnv(concurrency);
      const common = { env, db, logger: h.logger, metrics: h.metrics, policy: h.policy };
      parts.agent = agent?.(h);
      teardown.push(() => Promise.all(queues.map((q) => q.stop())));
      const started = Array.from({ length: replicas }, () =>
        startTestQueue({ ...common, ...(parts.agent ? { agent: h.agent } : {}) }).then((q) => queues.push(q)),
      );
      await Promise.all(started);
      parts.queue = queues[0];
      parts.queues = queues;
    }
  });

  afterAll(async () => {
    // Reverse order of setup (a part that failed to start was never pushed); every step runs,
    // the first failure is reported after the database is dropped.
    const failures: unknown[] = [];
    for (const step of teardown.reverse()) await step().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  });

  return h;
}
