/**
 * The agent's per-turn statements (memory load and save, SkillInvocation rows) are plain SQL on
 * a `pg` pool: Prisma's query compiler costs more CPU per statement than the statement itself
 * (bench/README.md). `Sql` is the little they need: run one parameterised statement, get its
 * rows (statements that change rows say how many with RETURNING). The worker passes its pool;
 * an agent made with only the Prisma client runs the same statements through `$queryRawUnsafe`.
 *
 * The writes commit without waiting for the WAL flush (`ASYNC_COMMIT`, in their RETURNING):
 * the job that ran the turn commits synchronously afterwards (the reply's OutboundMessage, the
 * job's completion), which flushes them too. A database crash in between loses them together
 * with the job's progress, and the job runs the turn again.
 */
import { dataKeysOf, type Db, type KeyRing } from "@clawgate/db";
import type pg from "pg";

export interface Sql {
  query<R>(text: string, values: readonly unknown[]): Promise<R[]>;
  /** The data key ring: statements writing an encrypted column seal their values with it. */
  keys: KeyRing | null;
}

/**
 * The statements are a handful of constants: each gets a name, so a pooled connection parses
 * and plans it once (a prepared statement per connection) instead of at every turn.
 */
// Process-wide: a pool's connections are shared by every Sql made on it, and a name must
// always stand for the same text on a connection.
const names = new Map<string, string>();

export function pgSql(pool: pg.Pool, keys: KeyRing | null): Sql {
  return {
    keys,
    query: async <R>(text: string, values: readonly unknown[]) => {
      let name = names.get(text);
      if (name === undefined) names.set(text, (name = `clawgate_agent_${names.size + 1}`));
      return (await pool.query({ name, text, values: values as unknown[] })).rows as R[];
    },
  };
}

export function prismaSql(db: Db): Sql {
  return {
    keys: dataKeysOf(db),
    query: <R>(text: string, values: readonly unknown[]) => db.$queryRawUnsafe<R[]>(text, ...values),
  };
}

/**
 * `synchronous_commit = off` for the statement's own transaction (what SET LOCAL would do, in
 * the same round trip): add to a write's RETURNING list. It is evaluated per returned row, so a
 * statement that changed nothing sets nothing (and had nothing to flush).
 */
export const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true)`;
