import type { Db } from "@clawgate/db";
import { describe, expect, it } from "vitest";
import { DEFAULT_SECRET_REF_POLICY } from "@clawgate/core";
import { catalogCache, type Catalog } from "./catalog.ts";
import { BUILTIN_TOOLBOX } from "./tools.ts";

const db = {} as Db;
const catalog = (revision: number): Catalog => ({
  revision,
  route: () => undefined,
  settings: () => ({}),
  secretRefs: DEFAULT_SECRET_REF_POLICY,
  toolbox: BUILTIN_TOOLBOX,
});

describe("catalogCache", () => {
  it("loads once per revision, shares a load in flight, and reloads when the revision moves", async () => {
    const loads: number[] = [];
    const get = catalogCache(db, async (_db, revision) => {
      loads.push(revision);
      return catalog(revision);
    });
    const [a, b] = await Promise.all([get(3), get(3)]);
    expect(a).toBe(b);
    expect(await get(3)).toBe(a);
    expect((await get(4)).revision).toBe(4);
    expect(loads).toEqual([3, 4]);
  });

  it("does not keep a failed load: the next turn tries again", async () => {
    let fail = true;
    const get = catalogCache(db, async (_db, revision) => {
      if (fail) throw new Error("database down");
      return catalog(revision);
    });
    await expect(get(7)).rejects.toThrow("database down");
    fail = false;
    expect((await get(7)).revision).toBe(7);
  });
});
