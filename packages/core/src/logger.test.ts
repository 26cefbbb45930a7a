import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, errorFields } from "./logger.ts";

describe("createLogger", () => {
  it("masks personal data in every part of every line: message, fields, error message and stack", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ service: "test", destination });
    const error = new Error("user 13812345678 <a.b@example.com> failed");
    logger.info({ note: "card 4111 1111 1111 1111", nested: { id: "11010519491231002X" } }, "from +44 20 7946 0958");
    logger.error({ err: error, fields: errorFields(error) }, "boom");
    const text = lines.join("");
    for (const clear of [
      "13812345678",
      "a.b@example.com",
      "4111 1111 1111 1111",
      "11010519491231002X",
      "+44 20 7946 0958",
    ])
      expect(text).not.toContain(clear);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(JSON.parse(lines[0]!)).toMatchObject({
      msg: "from [phone]",
      note: "card [bank-card]",
      nested: { id: "[id-card]" },
    });
  });
});
