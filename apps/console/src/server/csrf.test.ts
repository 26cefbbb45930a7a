import { describe, expect, it } from "vitest";
import { csrfForbidden, csrfRefusal } from "./csrf.ts";

const CONSOLE = "https://console.example.test";
const post = (headers: Record<string, string>) =>
  new Request(`${CONSOLE}/api/trpc/skill.update`, { method: "POST", headers });

describe("csrfRefusal", () => {
  it("lets the console's own tRPC client through (custom header, same origin)", () => {
    expect(
      csrfRefusal(post({ "x-trpc-source": "console", origin: CONSOLE, "sec-fetch-site": "same-origin" }), CONSOLE),
    ).toBeUndefined();
    // A non-browser client sends neither Origin nor Sec-Fetch-Site; it still needs the header.
    expect(csrfRefusal(post({ "x-trpc-source": "script" }), CONSOLE)).toBeUndefined();
  });

  it("refuses a POST without the header: what a cross-site form or a simple fetch sends", () => {
    expect(csrfRefusal(post({ origin: CONSOLE, "content-type": "text/plain" }), CONSOLE)).toBe(
      "missing the x-trpc-source header",
    );
  });

  it("refuses another origin, a sibling subdomain, and an opaque origin", () => {
    expect(csrfRefusal(post({ "x-trpc-source": "console", origin: "https://evil.example" }), CONSOLE)).toBe(
      "cross-origin request",
    );
    expect(
      csrfRefusal(post({ "x-trpc-source": "console", origin: "https://console.example.test:8443" }), CONSOLE),
    ).toBe("cross-origin request");
    expect(csrfRefusal(post({ "x-trpc-source": "console", origin: "null" }), CONSOLE)).toBe("cross-origin request");
    expect(csrfRefusal(post({ "x-trpc-source": "console", "sec-fetch-site": "same-site" }), CONSOLE)).toBe(
      "cross-site request (same-site)",
    );
    expect(csrfRefusal(post({ "x-trpc-source": "console", "sec-fetch-site": "cross-site" }), CONSOLE)).toBe(
      "cross-site request (cross-site)",
    );
  });

  it("never blocks reads", () => {
    expect(
      csrfRefusal(
        new Request(`${CONSOLE}/api/trpc/skill.list`, { headers: { origin: "https://evil.example" } }),
        CONSOLE,
      ),
    ).toBeUndefined();
  });

  it("refuses with 403 in tRPC's error shape", async () => {
    const res = csrfForbidden("cross-origin request");
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { data: { code: "FORBIDDEN", httpStatus: 403 } } });
  });
});
