import { describe, expect, it } from "vitest";
import { DeferredWrites } from "./tool-call.ts";

describe("DeferredWrites", () => {
  it("waits for every write, and throws the first failure only once all have finished", async () => {
    const writes = new DeferredWrites();
    const done: string[] = [];
    writes.add(new Promise((r) => setTimeout(() => r(done.push("slow")), 30)));
    writes.add(Promise.reject(new Error("first")));
    writes.add(new Promise((_, reject) => setTimeout(() => reject(new Error("second")), 10)));
    // The rejections above have handlers at once: waiting here raises no unhandled rejection.
    await new Promise((r) => setTimeout(r, 20));
    await expect(writes.settle()).rejects.toThrow("first");
    expect(done).toEqual(["slow"]);
    // Settled: nothing pending, but the failure is remembered.
    await expect(writes.settle()).rejects.toThrow("first");
  });

  it("settles at once with nothing to wait for", async () => {
    const writes = new DeferredWrites();
    writes.add(Promise.resolve(1));
    await expect(writes.settle()).resolves.toBeUndefined();
  });
});
