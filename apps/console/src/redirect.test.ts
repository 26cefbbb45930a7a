import { describe, expect, it } from "vitest";
import { redirectTarget } from "./redirect.ts";

const CONSOLE = "https://console.corp.example";

/** Where Chromium ends up when the console answers `Location: <target>` from a console page. */
const landing = (target: string) => new URL(target, `${CONSOLE}/signin`);

describe("redirectTarget", () => {
  const refused: [string, string][] = [
    ["a backslash", "/\\evil.example"],
    ["an encoded backslash", "/%5Cevil.example"],
    ["a double-encoded backslash", "/%255Cevil.example/x"],
    ["a tab", "/\t/evil.example"],
    ["an encoded tab", "/%09/evil.example"],
    ["an encoded newline", "/%0a/evil.example"],
    ["a raw newline", "/\n/evil.example"],
    ["a protocol-relative URL", "//evil.example"],
    ["three slashes", "///evil.example"],
    ["another origin", "https://evil.example"],
    ["a host that starts with the console's", "http://console.corp.example.evil.example"],
    ["the console's host on another scheme", "http://console.corp.example/skills"],
    ["the console's host on another port", "https://console.corp.example:8443/skills"],
    ["a javascript: URL", "javascript:alert(1)"],
    ["a data: URL", "data:text/html,<script>alert(1)</script>"],
    ["a dot segment before a double slash", "/.//evil.example"],
    ["leading whitespace before //", " //evil.example"],
    ["malformed escapes", "/%E0%A4%A"],
    ["empty", ""],
  ];
  it.each(refused)("sends %s to the console's root", (_what, value) => {
    const target = redirectTarget(value, CONSOLE);
    expect(target).toBe("/");
    expect(landing(target).origin).toBe(CONSOLE);
  });

  const kept: [string, string, string][] = [
    ["a path with query and fragment", "/ok/path?x=1#y", "/ok/path?x=1#y"],
    ["a page", "/skills", "/skills"],
    ["an absolute URL on the console", `${CONSOLE}/audit?page=2`, "/audit?page=2"],
    ["an encoded slash inside the query", "/audit?q=%2F%2Fx", "/audit?q=%2F%2Fx"],
    ["the sign-in page", "/signin", "/signin"],
  ];
  it.each(kept)("keeps %s", (_what, value, expected) => {
    const target = redirectTarget(value, CONSOLE);
    expect(target).toBe(expected);
    expect(landing(target).origin).toBe(CONSOLE);
  });

  it("treats a missing value as the root", () => {
    expect(redirectTarget(undefined, CONSOLE)).toBe("/");
    expect(redirectTarget(null, CONSOLE)).toBe("/");
  });

  it("compares against the console's origin, not its full URL", () => {
    expect(redirectTarget("http://localhost:3000/users", "http://localhost:3000")).toBe("/users");
    expect(redirectTarget("http://localhost:3001/users", "http://localhost:3000")).toBe("/");
  });
});
