import { describe, expect, it } from "vitest";
import { contentSecurityPolicy, strictTransportSecurity } from "./csp.ts";

describe("content security policy", () => {
  it("allows only this origin and the request's nonce for scripts", () => {
    const csp = contentSecurityPolicy("abc123", false);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self' 'nonce-abc123' 'strict-dynamic'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-eval");
  });
});

describe("strict transport security", () => {
  it("is sent only when the console's public URL is https", () => {
    expect(strictTransportSecurity("https://console.example.test")).toBe("max-age=63072000; includeSubDomains");
    expect(strictTransportSecurity("http://localhost:3000")).toBeUndefined();
  });
});
