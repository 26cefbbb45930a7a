import { describe, expect, it } from "vitest";
import { giveUp, MAX_FAILURES } from "./handle-inbound.ts";

const job = (attempts: number, last_error: string | null = null, max_attempts = 25) => ({
  attempts,
  max_attempts,
  last_error,
});
const pgError = (code: string, message = `pg ${code}`) => Object.assign(new Error(message), { code });

describe("giveUp: when retrying an inbound job cannot help", () => {
  it("gives up at once on a data error: the message's fault", () => {
    expect(giveUp(pgError("22P05"), job(1))).toBe("data error");
    expect(giveUp(pgError("23505"), job(1))).toBe("data error");
  });

  it("keeps retrying a database outage, even when it repeats, until the last attempt", () => {
    const outage = pgError("57P01", "terminating connection due to administrator command");
    expect(giveUp(outage, job(1))).toBeUndefined();
    expect(giveUp(outage, job(10, outage.message))).toBeUndefined();
    expect(giveUp(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), job(5))).toBeUndefined();
    expect(giveUp(outage, job(25, outage.message))).toBe("last attempt");
  });

  it("gives up on the same error twice, and on a third failure of any other kind", () => {
    expect(giveUp(new TypeError("x is undefined"), job(1))).toBeUndefined();
    expect(giveUp(new TypeError("x is undefined"), job(2, "x is undefined"))).toBe("the same error twice");
    // Compared as stored: graphile-worker's last_error went through the storable rule.
    expect(giveUp(new Error("bad \u0000 byte"), job(2, "bad  byte"))).toBe("the same error twice");
    expect(giveUp(new Error("b"), job(2, "a"))).toBeUndefined();
    expect(giveUp(new Error("c"), job(MAX_FAILURES, "b"))).toBe(`${MAX_FAILURES} failures`);
  });
});
