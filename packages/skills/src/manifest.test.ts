import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BUILTIN_SKILLS, httpFetch, kbSearch } from "./builtin.ts";
import { checkSkillSettings, defineSkill, settingsFields } from "./manifest.ts";

describe("built-in skills", () => {
  it("have unique keys", () => {
    const keys = BUILTIN_SKILLS.map((s) => s.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("classify risk as the product requires", () => {
    const risk = Object.fromEntries(BUILTIN_SKILLS.map((s) => [s.key, s.riskClass]));
    expect(risk).toEqual({
      help: "READ",
      status: "READ",
      "kb.search": "READ",
      "ticket.lookup": "READ",
      "ticket.create": "WRITE",
      "group.announce": "WRITE",
      "http.fetch": "READ",
    });
  });

  it("state the default rule: READ on, WRITE on with approval, DESTRUCTIVE off", () => {
    for (const s of BUILTIN_SKILLS) {
      if (s.riskClass === "READ") expect(s.requiresApproval, s.key).toBe(false);
      if (s.riskClass === "WRITE") expect([s.enabledByDefault, s.requiresApproval], s.key).toEqual([true, true]);
      if (s.riskClass === "DESTRUCTIVE") expect([s.enabledByDefault, s.requiresApproval], s.key).toEqual([false, true]);
    }
    // The one READ exception: http.fetch does nothing until an admin lists its hosts.
    expect(BUILTIN_SKILLS.filter((s) => s.riskClass === "READ" && !s.enabledByDefault).map((s) => s.key)).toEqual([
      "http.fetch",
    ]);
  });

  it("turn their inputs into JSON Schema tool parameters", () => {
    const schema = z.toJSONSchema(BUILTIN_SKILLS.find((s) => s.key === "kb.search")!.input) as {
      properties: Record<string, unknown>;
      required?: string[];
    };
    expect(Object.keys(schema.properties)).toEqual(["query", "limit"]);
    expect(schema.required).toContain("query");
  });
});

describe("defineSkill", () => {
  const base = {
    description: "x",
    requiresApproval: false,
    enabledByDefault: false,
    timeoutMs: 1,
    settings: z.object({}),
    input: z.object({}),
  };
  it("rejects malformed keys", () => {
    expect(() => defineSkill({ ...base, key: "Bad Key", riskClass: "READ", cacheTtlSeconds: 0 })).toThrow(
      /invalid skill key/,
    );
  });
  it("refuses caching for writes", () => {
    expect(() => defineSkill({ ...base, key: "x.write", riskClass: "WRITE", cacheTtlSeconds: 10 })).toThrow(
      /only READ/,
    );
  });
});

describe("checkSkillSettings", () => {
  it("accepts a skill's own settings plus requiresFlag and applies defaults", () => {
    const check = checkSkillSettings(httpFetch, { allowedHosts: ["wiki.corp.example"], requiresFlag: "web" });
    expect(check).toEqual({
      ok: true,
      settings: {
        allowedHosts: ["wiki.corp.example"],
        allowPrivateNetworks: false,
        maxBytes: 256 * 1024,
        requiresFlag: "web",
      },
    });
  });
  it("refuses http.fetch's malformed allowlist entries and its old allowPrivate key", () => {
    const check = checkSkillSettings(httpFetch, {
      allowedHosts: ["wiki.corp.example:8443", "wiki.corp.example:99999", "https://wiki.corp.example"],
      allowPrivate: true,
    });
    expect(!check.ok && check.errors).toEqual([
      expect.stringMatching(/^http\.fetch settings\.allowedHosts\.1: must be a host name, \*\.suffix, IPv4 address/),
      expect.stringMatching(/^http\.fetch settings\.allowedHosts\.2: must be a host name/),
      'http.fetch settings: Unrecognized key: "allowPrivate"',
    ]);
  });
  it("names each problem, unknown keys included", () => {
    const check = checkSkillSettings(kbSearch, { baseUrl: "not a url", tokn: "X" });
    expect(check.ok).toBe(false);
    expect(!check.ok && check.errors).toEqual([
      expect.stringMatching(/^kb\.search settings\.baseUrl: /),
      expect.stringMatching(/^kb\.search settings: Unrecognized key: "tokn"/),
    ]);
  });
});

describe("settingsFields", () => {
  it("describes a skill's settings for an editor, requiresFlag included", () => {
    expect(settingsFields(httpFetch)).toEqual([
      expect.objectContaining({ name: "allowedHosts", type: "string[]", default: [], required: false }),
      expect.objectContaining({ name: "allowPrivateNetworks", type: "boolean", default: false, required: false }),
      expect.objectContaining({ name: "maxBytes", type: "integer", default: 262144, required: false }),
      expect.objectContaining({ name: "requiresFlag", type: "string", required: false }),
    ]);
    expect(
      settingsFields(kbSearch)
        .filter((f) => f.required)
        .map((f) => f.name),
    ).toEqual(["baseUrl"]);
  });
});
