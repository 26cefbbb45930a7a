/**
 * The scale benchmark's data, written with SQL (`INSERT ... SELECT generate_series`) into a database
 * of its own on the server in DATABASE_URL, kept between runs (filling the full size takes many
 * minutes on 2 cores).
 *
 * Shape (sizes from env, defaults = issue 16's):
 * - conversations: groups and chats first seen over the last 90 days, 70% enabled; their
 *   `lastSeenAt` is their last message's time;
 * - rules: `SkillRule`s on the built-in skills: up to a fifth CONVERSATION rules (every skill of
 *   the first conversations), the rest USER rules for ~60k staff ids; 70% ALLOW;
 * - inbound messages: evenly over the last 90 days in insert order (as a live system writes them),
 *   each to a conversation drawn with a skewed distribution (conversation k gets ~1/sqrt(k) of the
 *   traffic: the busiest has ~1%, most have a few hundred), a realistic DingTalk payload, 2/3
 *   REPLIED, the rest DENIED / FAILED / RECEIVED;
 * - skill invocations: spread over the messages in order (about 4 per message at the default
 *   sizes), each with its message's conversation, sender and time; skewed skill choice; decisions
 *   and outcomes as the console benchmark's fixture has them;
 * - audit rows: over the last 90 days in id order, a valid hash chain (core's `auditHash`,
 *   computed here) that the demo seed's own entries continue.
 *
 * Random draws are hashes of the row number (`hashint8`), so a message's conversation, sender and
 * time can be recomputed for its invocations without a join. Secondary indexes of the two big
 * tables are dropped while they fill and rebuilt from their own definitions after; then VACUUM
 * ANALYZE (a live table gets that from autovacuum; index-only scans need the visibility map).
 * The database's COMMENT records the sizes once everything is in: a run reuses a database whose
 * comment matches its sizes, and refills one that does not (or an interrupted fill).
 */
import pg from "pg";
import { auditHash } from "../../packages/core/src/audit.ts";
import { seedDemo } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { deployMigrations } from "../../packages/db/src/migrations.ts";
import { withDatabase } from "@clawgate/devstack/testdb";

export interface ScaleSizes {
  conversations: number;
  rules: number;
  inbound: number;
  invocations: number;
  audit: number;
  /** The data is spread over this many days before the fill (90; 1 packs a day's traffic of the full size into a small fill). */
  days: number;
}

export function sizesFromEnv(env: NodeJS.ProcessEnv = process.env): ScaleSizes {
  const n = (name: string, fallback: number) => {
    const v = Number(env[name] ?? fallback);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number >= 0, got ${env[name]}`);
    return v;
  };
  const sizes = {
    conversations: n("BENCH_SCALE_CONVERSATIONS", 10_000),
    rules: n("BENCH_SCALE_RULES", 500_000),
    inbound: n("BENCH_SCALE_INBOUND", 5_000_000),
    invocations: n("BENCH_SCALE_INVOCATIONS", 20_000_000),
    audit: n("BENCH_SCALE_AUDIT", 1_000_000),
    days: n("BENCH_SCALE_DAYS", 90),
  };
  if (sizes.days < 1) throw new Error("BENCH_SCALE_DAYS must be at least 1");
  if (sizes.conversations < 1) throw new Error("BENCH_SCALE_CONVERSATIONS must be at least 1");
  if (sizes.invocations > 0 && sizes.inbound < 1) throw new Error("invocations need inbound messages");
  return sizes;
}

/** The database's name: the default sizes get `clawgate_scale`, others a name of their own. */
export function scaleDatabaseName(s: ScaleSizes): string {
  const d = sizesFromEnv({});
  const same = (Object.keys(d) as (keyof ScaleSizes)[]).every((k) => d[k] === s[k]);
  return same
    ? "clawgate_scale"
    : `clawgate_scale_${s.conversations}_${s.rules}_${s.inbound}_${s.invocations}_${s.audit}_${s.days}d`.slice(0, 63);
}

interface Marker {
  sizes: ScaleSizes;
  filledAt: string;
  fillSeconds: number;
}

const log = (msg: string) => console.log(`[scale fill ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * The filled database's URL: the existing one when its marker matches the sizes (and `refill` is
 * not set), else a fresh fill. `onDemoSeed` values go into the demo seed (model and internal API
 * URLs: the runner points them at its own servers again on every run anyway).
 */
export async function ensureScaleDatabase(
  serverUrl: string,
  sizes: ScaleSizes,
  opts: { refill: boolean },
): Promise<{ url: string; name: string; marker: Marker; reused: boolean }> {
  const name = scaleDatabaseName(sizes);
  const url = withDatabase(serverUrl, name);
  const existing = await withClient(serverUrl, async (c) => {
    const r = await c.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [name],
    );
    return r.rows[0];
  });
  if (existing && !opts.refill) {
    try {
      const marker = JSON.parse(existing.comment ?? "") as Marker;
      if (JSON.stringify(marker.sizes) === JSON.stringify(sizes)) {
        // Migrations added since the fill (e.g. new indexes) are applied to the kept data.
        await deployMigrations(url);
        return { url, name, marker, reused: true };
      }
    } catch {
      // no marker: an interrupted fill
    }
    log(`${name} exists but is not a complete fill of these sizes: refilling`);
  }
  await withClient(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const t0 = performance.now();
  await deployMigrations(url);
  await fill(url, sizes);
  const marker: Marker = {
    sizes,
    filledAt: new Date().toISOString(),
    fillSeconds: Math.round((performance.now() - t0) / 1000),
  };
  await withClient(serverUrl, (c) =>
    c.query(`COMMENT ON DATABASE "${name}" IS '${JSON.stringify(marker).replaceAll("'", "''")}'`),
  );
  log(`filled ${name} in ${marker.fillSeconds} s`);
  return { url, name, marker, reused: false };
}

// Uniform [0, 1) from a row number and a stream number: the same value every time it is asked.
const U = (stream: number, g: string) =>
  `((hashint8((${g})::bigint * 16 + ${stream})::bigint + 2147483648) / 4294967296.0)`;

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

/** Drops the table's secondary indexes (not the primary key) and returns their definitions. */
async function dropIndexes(c: pg.Client, table: string): Promise<string[]> {
  const r = await c.query<{ indexname: string; indexdef: string }>(
    `SELECT i.indexname, i.indexdef FROM pg_indexes i
     WHERE i.schemaname = 'public' AND i.tablename = $1
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)`,
    [table],
  );
  for (const row of r.rows) await c.query(`DROP INDEX "${row.indexname}"`);
  return r.rows.map((row) => row.indexdef);
}

async function fill(url: string, s: ScaleSizes): Promise<void> {
  // 1. Audit rows first: the demo seed's entries then continue this chain, in id order.
  await withClient(url, (c) => timed(`${s.audit} audit rows`, () => fillAudit(c, s.audit, s.days)));

  // 2. The demo seed: built-in skills, users, the demo model and route (pointed at the runner's
  //    own demo model on every run), one config revision.
  const db = createDb(url, { max: 2, applicationName: "bench-scale-fill" });
  try {
    await seedDemo(db, {});
  } finally {
    await db.$disconnect();
  }

  await withClient(url, async (c) => {
    await c.query(`SET synchronous_commit = off`);
    await c.query(`SET maintenance_work_mem = '512MB'`);
    // Most used first (the draw below favours the first ones).
    const popular = ["kb.search", "help", "ticket.lookup", "status", "ticket.create", "http.fetch", "group.announce"];
    const skills = (await c.query<{ key: string }>(`SELECT key FROM "Skill" ORDER BY key`)).rows
      .map((r) => r.key)
      .sort((a, b) => (popular.indexOf(a) >>> 0) - (popular.indexOf(b) >>> 0));
    const skillArray = `ARRAY[${skills.map((k) => `'${k}'`).join(",")}]::text[]`;
    const S = skills.length;
    const day = 86_400;
    const now = (await c.query<{ now: Date }>(`SELECT date_trunc('second', now()) AS now`)).rows[0]!.now;
    const start = `timestamp '${new Date(now.getTime() - s.days * day * 1000).toISOString().replace("T", " ").replace("Z", "")}'`;
    // A message's conversation (skewed: k gets ~1/sqrt(k) of the traffic), sender and time.
    const conv = (m: string) => `floor(${s.conversations} * power(${U(1, m)}, 2))::int`;
    const sender = (m: string) => `floor(60000 * power(${U(2, m)}, 1.5))::int`;
    const received = (m: string) =>
      `(${start} + make_interval(secs => ((${m}) - 1 + ${U(3, m)}) * ${(s.days * day) / Math.max(1, s.inbound)}))`;
    const cid = (k: string) => `'cid-scale-' || lpad((${k})::text, 6, '0')`;
    const inboundId = (m: string) => `'inb_scale_' || lpad((${m})::text, 9, '0')`;

    // 3. Conversations.
    await timed(`${s.conversations} conversations`, () =>
      c.query(`
        INSERT INTO "Conversation" (id, "conversationId", "robotCode", title, type, environment, status, "firstSeenAt", "lastSeenAt", "createdAt", "updatedAt")
        SELECT 'conv_scale_' || k, ${cid("k")}, 'dingscalerobot',
               CASE WHEN ${U(4, "k")} < 0.7 THEN 'Scale group ' ELSE 'Scale chat ' END || k,
               (CASE WHEN ${U(4, "k")} < 0.7 THEN 'GROUP' ELSE 'SINGLE' END)::"ConversationType",
               (CASE WHEN ${U(5, "k")} < 0.9 THEN 'PROD' ELSE 'TEST' END)::"Environment",
               (CASE WHEN ${U(6, "k")} < 0.7 THEN 'ENABLED' WHEN ${U(6, "k")} < 0.9 THEN 'PENDING' ELSE 'DISABLED' END)::"ConversationStatus",
               ${start} + make_interval(secs => ${U(7, "k")} * ${s.days * day}), ${start}, ${start}, now()
        FROM generate_series(0, ${s.conversations - 1}) k`),
    );

    // 4. Rules on the built-in skills.
    const convRules = Math.min(s.conversations * S, Math.floor(s.rules / 5));
    await timed(`${s.rules} rules`, () =>
      c.query(`
        INSERT INTO "SkillRule" (id, "skillKey", scope, subject, effect, "createdAt", "updatedAt")
        SELECT 'rule_scale_' || r, (${skillArray})[1 + r % ${S}],
               (CASE WHEN r < ${convRules} THEN 'CONVERSATION' ELSE 'USER' END)::"RuleScope",
               CASE WHEN r < ${convRules} THEN ${cid(`r / ${S}`)} ELSE 'staff-scale-' || ((r - ${convRules}) / ${S}) END,
               (CASE WHEN ${U(8, "r")} < 0.7 THEN 'ALLOW' ELSE 'DENY' END)::"RuleEffect", now(), now()
        FROM generate_series(0, ${s.rules - 1}) r`),
    );

    // 5. Inbound messages, in chunks (progress, and WAL between checkpoints).
    const inboundIndexes = await dropIndexes(c, "InboundMessage");
    const CHUNK = 500_000;
    for (let lo = 1; lo <= s.inbound; lo += CHUNK) {
      const hi = Math.min(s.inbound, lo + CHUNK - 1);
      await timed(`inbound ${lo}-${hi}`, () =>
        c.query(`
          INSERT INTO "InboundMessage" (id, "robotCode", "msgId", channel, "conversationId", "senderId", "msgType", payload, status, "traceId", "receivedAt", "processedAt", "modelCalls", "promptTokens", "completionTokens")
          SELECT ${inboundId("m")}, 'dingscalerobot', 'msg-scale-' || m,
                 (CASE WHEN ${U(9, "m")} < 0.66 THEN 'HTTP' ELSE 'STREAM' END)::"IngressChannel",
                 ${cid(conv("m"))}, 'staff-scale-' || ${sender("m")}, 'text',
                 jsonb_build_object(
                   'msgtype', 'text', 'msgId', 'msg-scale-' || m,
                   'text', jsonb_build_object('content', 'please look up ticket ' || (m % 99991) || ' and tell me its status'),
                   'conversationId', ${cid(conv("m"))}, 'conversationType', '2', 'conversationTitle', 'Scale group',
                   'senderStaffId', 'staff-scale-' || ${sender("m")}, 'senderNick', 'Staff ' || ${sender("m")},
                   'chatbotUserId', '$:LWCP_v1:$scalerobot', 'robotCode', 'dingscalerobot', 'isInAtList', true,
                   'sessionWebhook', 'https://oapi.dingtalk.com/robot/sendBySession?session=' || md5(m::text),
                   'createAt', (extract(epoch FROM ${received("m")}) * 1000)::bigint),
                 st::"InboundStatus", md5('t' || m), ${received("m")},
                 CASE WHEN st = 'RECEIVED' THEN NULL ELSE ${received("m")} + make_interval(secs => 0.8 + 3 * ${U(10, "m")}) END,
                 CASE WHEN st = 'REPLIED' THEN 1 ELSE 0 END,
                 CASE WHEN st = 'REPLIED' THEN 300 + (m % 2000) ELSE 0 END,
                 CASE WHEN st = 'REPLIED' THEN 20 + (m % 400) ELSE 0 END
          FROM (SELECT m, CASE WHEN ${U(11, "m")} < 0.67 THEN 'REPLIED' WHEN ${U(11, "m")} < 0.85 THEN 'DENIED'
                               WHEN ${U(11, "m")} < 0.95 THEN 'FAILED' ELSE 'RECEIVED' END AS st
                FROM generate_series(${lo}, ${hi}) m) x`),
      );
    }
    await timed(`InboundMessage indexes`, async () => {
      for (const def of inboundIndexes) await c.query(def);
    });

    // 6. Skill invocations: invocation g belongs to message 1 + floor((g - 1) * inbound / invocations).
    const invocationIndexes = await dropIndexes(c, "SkillInvocation");
    const ICHUNK = 1_000_000;
    const msgOf = (g: string) => `(1 + ((${g})::bigint - 1) * ${s.inbound} / ${Math.max(1, s.invocations)})`;
    for (let lo = 1; lo <= s.invocations; lo += ICHUNK) {
      const hi = Math.min(s.invocations, lo + ICHUNK - 1);
      await timed(`invocations ${lo}-${hi}`, () =>
        c.query(`
          INSERT INTO "SkillInvocation" (id, "traceId", "inboundMessageId", "conversationId", "userId", "skillKey", decision, reasons, "latencyMs", "promptTokens", "completionTokens", "cacheHit", outcome, "configRevision", "createdAt")
          SELECT 'inv_scale_' || lpad(g::text, 9, '0'), md5('t' || m), ${inboundId("m")}, ${cid(conv("m"))},
                 'staff-scale-' || ${sender("m")}, (${skillArray})[1 + floor(${S} * power(${U(12, "g")}, 2))::int],
                 d::"Decision", CASE WHEN d = 'DENY' THEN ARRAY['skill not allowed in this conversation'] ELSE '{}'::text[] END,
                 20 + (g % 900), 300 + (g % 2000), 20 + (g % 400), ${U(13, "g")} < 0.2,
                 (CASE WHEN d = 'DENY' THEN 'DENIED' WHEN d = 'NEEDS_APPROVAL' THEN 'PENDING_APPROVAL'
                       WHEN ${U(14, "g")} < 0.8 THEN 'SUCCESS' WHEN ${U(14, "g")} < 0.9 THEN 'ERROR' ELSE 'TIMEOUT' END)::"InvocationOutcome",
                 1, ${received("m")} + make_interval(secs => 0.2 + 0.1 * (g % 5))
          FROM (SELECT g, ${msgOf("g")} AS m,
                       CASE WHEN ${U(15, "g")} < 0.75 THEN 'ALLOW' WHEN ${U(15, "g")} < 0.875 THEN 'DENY' ELSE 'NEEDS_APPROVAL' END AS d
                FROM generate_series(${lo}, ${hi}) g) x`),
      );
    }
    await timed(`SkillInvocation indexes`, async () => {
      for (const def of invocationIndexes) await c.query(def);
    });

    // 7. Each conversation was last seen at its last message.
    await timed("Conversation.lastSeenAt", () =>
      c.query(`
        UPDATE "Conversation" c SET "lastSeenAt" = x.last
        FROM (SELECT "conversationId", max("receivedAt") AS last FROM "InboundMessage" GROUP BY 1) x
        WHERE c."conversationId" = x."conversationId"`),
    );
    for (const t of ["AuditLog", "Conversation", "SkillRule", "InboundMessage", "SkillInvocation"])
      await timed(`VACUUM ANALYZE ${t}`, () => c.query(`VACUUM (ANALYZE) "${t}"`));
  });
}

const TARGETS = ["skill", "conversation", "feature_flag", "approval", "budget", "safe_mode", "model", "route", "user"];
const ACTORS = ["admin@clawgate.local", "operator@clawgate.local", "approver@clawgate.local", "ops-bot"];

/** Audit rows over the last `days` days, hash-chained with core's `auditHash`, written 10,000 at a time. */
async function fillAudit(c: pg.Client, n: number, days: number): Promise<void> {
  const now = Date.now();
  const span = days * 86_400_000;
  let prevHash: string | null = null;
  const BATCH = 10_000;
  let state = 7;
  const rnd = () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  for (let lo = 0; lo < n; lo += BATCH) {
    const cols = {
      at: [] as string[],
      actorType: [] as string[],
      actorName: [] as string[],
      action: [] as string[],
      targetType: [] as string[],
      targetId: [] as string[],
      diff: [] as string[],
      traceId: [] as string[],
      prevHash: [] as (string | null)[],
      hash: [] as string[],
    };
    for (let i = lo; i < Math.min(n, lo + BATCH); i++) {
      // Millisecond times, ascending with the id (the column is timestamp(3), as JS Dates are).
      const at = new Date(now - span + Math.floor((i / n) * span));
      const targetType = TARGETS[Math.floor(rnd() ** 2 * TARGETS.length)]!;
      const system = rnd() < 0.1;
      const fields = {
        at,
        actorType: system ? ("SYSTEM" as const) : ("USER" as const),
        actorId: null,
        actorName: system ? "system" : ACTORS[Math.floor(rnd() * ACTORS.length)]!,
        action: `${targetType}.${rnd() < 0.8 ? "update" : "create"}`,
        targetType,
        targetId: `${targetType}-${Math.floor(rnd() * 5_000)}`,
        diff: { enabled: { from: false, to: true } },
        traceId: (i * 2_654_435_761).toString(16).padStart(16, "0").slice(-16),
        configRevision: null,
        prevHash,
      };
      const hash = auditHash(fields);
      cols.at.push(at.toISOString());
      cols.actorType.push(fields.actorType);
      cols.actorName.push(fields.actorName);
      cols.action.push(fields.action);
      cols.targetType.push(fields.targetType);
      cols.targetId.push(fields.targetId);
      cols.diff.push(JSON.stringify(fields.diff));
      cols.traceId.push(fields.traceId);
      cols.prevHash.push(prevHash);
      cols.hash.push(hash);
      prevHash = hash;
    }
    await c.query(
      `INSERT INTO "AuditLog" (at, "actorType", "actorName", action, "targetType", "targetId", diff, "traceId", "prevHash", hash)
       SELECT (a AT TIME ZONE 'UTC')::timestamp(3), t::"ActorType", nm, ac, tt, ti, d::jsonb, tr, ph, h
       FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
         WITH ORDINALITY AS u(a, t, nm, ac, tt, ti, d, tr, ph, h, ord)
       ORDER BY ord`,
      [
        cols.at,
        cols.actorType,
        cols.actorName,
        cols.action,
        cols.targetType,
        cols.targetId,
        cols.diff,
        cols.traceId,
        cols.prevHash,
        cols.hash,
      ],
    );
  }
}
