/**
 * Router tests' shared setup: a fresh database per test file (real PostgreSQL, migrations
 * applied) and tRPC callers signed in per role, with the context trpc.ts builds for a request
 * (db, session, request id, logger) except that the session is given instead of read from
 * next-auth's cookie.
 *
 * Import this module BEFORE the router under test: trpc.ts imports `server-only` (Next's marker
 * module, which throws outside a React server bundle) and `../auth.ts` (next-auth and the
 * validated env), and the mocks below must be registered before trpc.ts loads. Imported in the
 * wrong order, the test fails at import with server-only's error; it never runs half-mocked.
 */
import { afterAll, beforeAll, vi } from "vitest";
import type { AnyTRPCRouter } from "@trpc/server";
import { createLogger } from "@clawgate/core/logger.ts";
import { DEFAULT_SECRET_REF_POLICY, type SecretRefPolicy } from "@clawgate/core/secret-refs.ts";
import { createDb, type Db } from "@clawgate/db";
import { parseKeyRing } from "@clawgate/db/crypto";
import type { Role } from "@clawgate/db/enums";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Context } from "./trpc.ts";

vi.mock("server-only", () => ({}));
// The callers get their session from the test; nothing may read one from a request.
vi.mock("../auth.ts", () => ({
  getSession: async () => {
    throw new Error("router tests pass the session in the context");
  },
}));

/** Who a caller is signed in as. */
export interface TestUser {
  id: string;
  email: string | null;
  name?: string | null;
}

export interface RouterTestOptions {
  /** Prefix of the test database's name (shows which file left one behind). */
  prefix: string;
  /** Rows the file's tests need, written once after the database is created. */
  seed?: (db: Db) => Promise<unknown>;
  /** The secret-reference policy the console's env would give (default: no allowlist env set). */
  secretRefs?: SecretRefPolicy;
  /** The procedures' logger (default: silent). */
  log?: Context["log"];
  /** The console's data key ring (CLAWGATE_DATA_KEYS), as the runtimes it shares the database with use. */
  dataKeys?: string;
}

/**
 * Registers beforeAll/afterAll for a fresh database and returns callers of `router` on it.
 * `db` is usable inside tests and hooks registered after this call.
 */
export function routerTest<TRouter extends AnyTRPCRouter>(router: TRouter, opts: RouterTestOptions) {
  let tdb: TestDatabase | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    tdb = await createTestDatabase({ prefix: opts.prefix });
    db = createDb(tdb.url, { max: 4, dataKeys: parseKeyRing(opts.dataKeys) });
    await opts.seed?.(db);
  });
  afterAll(async () => {
    await db?.$disconnect();
    await tdb?.drop();
  });

  const theDb = () => {
    if (!db) throw new Error("the test database exists from beforeAll on");
    return db;
  };

  /**
   * A caller signed in with `role` (null: signed out). Without `user` the identity is made up:
   * id `u-<role>`, email `<role>@example.test` (no such row: enough where nothing references
   * the user). The request id, which becomes the audit entry's trace id, is `req-<ROLE>`.
   */
  function as(role: Role | null, user?: TestUser): ReturnType<TRouter["createCaller"]> {
    const who = role && (user ?? { id: `u-${role.toLowerCase()}`, email: `${role.toLowerCase()}@example.test` });
    const ctx: Context = {
      db: theDb(),
      requestId: `req-${role ?? "anonymous"}`,
      log: opts.log ?? createLogger({ service: "clawgate-console", level: "silent" }),
      secretRefs: opts.secretRefs ?? DEFAULT_SECRET_REF_POLICY,
      session: role && who ? { user: { ...who, role }, expires: new Date(Date.now() + 3_600_000).toISOString() } : null,
    };
    return router.createCaller(ctx) as ReturnType<TRouter["createCaller"]>;
  }

  /** A caller signed in as the database's first user with `role` (seedDemo makes one of each). */
  async function asUserWith(role: Role): Promise<ReturnType<TRouter["createCaller"]>> {
    return as(role, await theDb().user.findFirstOrThrow({ where: { role }, orderBy: { createdAt: "asc" } }));
  }

  return {
    get db() {
      return theDb();
    },
    /** The test database's URL (for processes the test starts). */
    get url() {
      if (!tdb) throw new Error("the test database exists from beforeAll on");
      return tdb.url;
    },
    as,
    asUserWith,
  };
}
