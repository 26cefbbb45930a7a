/**
 * The agent's per-turn statements (memory load and save, SkillInvocation rows) are plain SQL on
 * a `pg` pool: Prisma's query compiler costs more CPU per statement than the statement itself
 * (bench/README.md). `Sql` is the little they need: run one parameterised statement, get its
 * rows (statements that change rows say how many with RETURNING). The worker passes its pool;
 * an agent made with only the Prisma client runs the same statements through `$queryRawUnsafe`.
 */
import type { Db } from "@clawgate/db";
import type pg from "pg";

export interface Sql {
  query<R>(text: string, values: readonly unknown[]): Promise<R[]>;
}

export function pgSql(pool: pg.Pool): Sql {
  return { query: async <R>(text: string, values: readonly unknown[]) => (await pool.query(text, values as unknown[])).rows as R[] };
}

export function prismaSql(db: Db): Sql {
  return { query: <R>(text: string, values: readonly unknown[]) => db.$queryRawUnsafe<R[]>(text, ...values) };
}
