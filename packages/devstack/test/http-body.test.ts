import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BodyTooLargeError, readRequestText } from "../src/http-body.ts";

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    readRequestText(req, 16).then(
      (text) => res.writeHead(200).end(`got:${text}`),
      (error: unknown) => res.writeHead(error instanceof BodyTooLargeError ? 413 : 500).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe("readRequestText", () => {
  it("returns the body as UTF-8 up to the cap (bytes, not characters)", async () => {
    const res = await fetch(url, { method: "POST", body: "钉钉 robot" }); // 13 bytes
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("got:钉钉 robot");
  });

  it("rejects a larger body and still lets the server answer", async () => {
    const res = await fetch(url, { method: "POST", body: "x".repeat(100_000) });
    expect(res.status).toBe(413);
    // The connection stays usable for the next request.
    expect((await fetch(url, { method: "POST", body: "ok" })).status).toBe(200);
  });
});
