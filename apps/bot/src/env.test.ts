import { describe, expect, it } from "vitest";
import { EnvError, loadEnv, metricsExposureProblem } from "./env.ts";

const DB = "postgresql://clawgate@127.0.0.1:5432/clawgate";

function problems(source: Record<string, string | undefined>): string[] {
  try {
    loadEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvError);
    return (error as EnvError).lines;
  }
  throw new Error("expected loadEnv to throw");
}

describe("loadEnv", () => {
  it("parses a minimal env and fills in the defaults", () => {
    const env = loadEnv({ DATABASE_URL: DB });
    expect(env).toMatchObject({
      DATABASE_URL: DB,
      PORT: 8080,
      HOST: "0.0.0.0",
      LOG_LEVEL: "info",
      DINGTALK_MODE: "http",
      DINGTALK_API_BASE: "https://api.dingtalk.com",
    });
    expect(env.DINGTALK_APP_KEY).toBeUndefined();
    expect(env.LOCAL_MODEL_BASE_URL).toBeUndefined();
  });

  it("parses given values", () => {
    const env = loadEnv({
      DATABASE_URL: "postgres://u:p@db:6543/x",
      PORT: "3000",
      LOG_LEVEL: "debug",
      DINGTALK_MODE: "stream",
      DINGTALK_AES_KEY: "a".repeat(43),
      LOCAL_MODEL_BASE_URL: "http://127.0.0.1:3300/v1",
    });
    expect(env.PORT).toBe(3000);
    expect(env.DINGTALK_MODE).toBe("stream");
    expect(env.LOCAL_MODEL_BASE_URL).toBe("http://127.0.0.1:3300/v1");
  });

  it("treats empty strings as unset", () => {
    expect(loadEnv({ DATABASE_URL: DB, PORT: "", DINGTALK_APP_KEY: "" })).toMatchObject({ PORT: 8080 });
  });

  it.each([
    [{ PORT: "abc" }, 'PORT: expected an integer between 1 and 65535, got "abc"'],
    [{ PORT: "70000" }, 'PORT: expected an integer between 1 and 65535, got "70000"'],
    [{ PORT: "80.5" }, 'PORT: expected an integer between 1 and 65535, got "80.5"'],
    [{ DATABASE_URL: "not-a-url" }, "DATABASE_URL: must be a postgresql:// URL"],
    [{ DATABASE_URL: "mysql://u@h/db" }, "DATABASE_URL: must be a postgresql:// URL"],
    [{ DATABASE_URL: undefined }, "DATABASE_URL: is required"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent"],
    [{ DINGTALK_MODE: "ws" }, "DINGTALK_MODE: expected one of http, stream"],
    [{ DINGTALK_AES_KEY: "short" }, "DINGTALK_AES_KEY: must be exactly 43 characters, got 5"],
    [{ DINGTALK_API_BASE: "ftp://x" }, "DINGTALK_API_BASE:"],
    [{ LOCAL_MODEL_BASE_URL: "localhost" }, "LOCAL_MODEL_BASE_URL:"],
  ])("names the variable: %o", (override, expected) => {
    const lines = problems({ DATABASE_URL: DB, ...override });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(expected);
  });

  it("reports one line per problem", () => {
    const lines = problems({ DATABASE_URL: "nonsense", PORT: "0", DINGTALK_MODE: "x" });
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.split(":")[0])).toEqual(["DATABASE_URL", "PORT", "DINGTALK_MODE"]);
    const error = (() => {
      try {
        loadEnv({ PORT: "abc" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/DATABASE_URL: is required[\s\S]*PORT: expected/);
  });

  it("validates only the keys a command asks for", () => {
    expect(loadEnv({ DATABASE_URL: DB, PORT: "abc" }, ["DATABASE_URL"])).toEqual({ DATABASE_URL: DB });
    expect(() => loadEnv({ PORT: "abc" }, ["DATABASE_URL"])).toThrow(/DATABASE_URL/);
  });

  it("does not modify the source object", () => {
    const source = { DATABASE_URL: DB, PORT: "" };
    loadEnv(source);
    expect(source).toEqual({ DATABASE_URL: DB, PORT: "" });
  });

  it("parses the ingress and worker settings with their defaults", () => {
    expect(loadEnv({ DATABASE_URL: DB })).toMatchObject({
      DINGTALK_WEBHOOK_HOSTS: ["oapi.dingtalk.com"],
      WORKER_CONCURRENCY: 8,
      DINGTALK_FAKE_URL: "http://127.0.0.1:3200",
    });
    const env = loadEnv({
      DATABASE_URL: DB,
      DINGTALK_WEBHOOK_HOSTS: "oapi.dingtalk.com, 127.0.0.1:3200 ,",
      WORKER_CONCURRENCY: "1",
    });
    expect(env.DINGTALK_WEBHOOK_HOSTS).toEqual(["oapi.dingtalk.com", "127.0.0.1:3200"]);
    expect(env.WORKER_CONCURRENCY).toBe(1);
  });

  it("rejects a non-numeric concurrency and a bad host list", () => {
    expect(
      problems({
        DATABASE_URL: DB,
        WORKER_CONCURRENCY: "two",
        DINGTALK_WEBHOOK_HOSTS: "https://x/y",
      }),
    ).toEqual([
      'DINGTALK_WEBHOOK_HOSTS: expected a comma list of host[:port], got "https://x/y"',
      'WORKER_CONCURRENCY: expected an integer >= 0, got "two"',
    ]);
  });

  it("metrics: a loopback listener on 9464 by default, no token", () => {
    expect(loadEnv({ DATABASE_URL: DB })).toMatchObject({ METRICS_PORT: 9464, METRICS_HOST: "127.0.0.1" });
    expect(loadEnv({ DATABASE_URL: DB }).METRICS_TOKEN).toBeUndefined();
    expect(loadEnv({ DATABASE_URL: DB, METRICS_PORT: "off" }).METRICS_PORT).toBe("off");
    expect(loadEnv({ DATABASE_URL: DB, METRICS_PORT: "0" }).METRICS_PORT).toBe(0);
    expect(loadEnv({ DATABASE_URL: DB, METRICS_TOKEN: "t".repeat(16) }).METRICS_TOKEN).toBe("t".repeat(16));
  });

  it("metrics: rejects a bad port and a short or spaced token", () => {
    expect(problems({ DATABASE_URL: DB, METRICS_PORT: "none", METRICS_TOKEN: "short" })).toEqual([
      'METRICS_PORT: expected a port (0 for any free one) or "off", got "none"',
      "METRICS_TOKEN: must be at least 16 characters",
    ]);
    expect(problems({ DATABASE_URL: DB, METRICS_TOKEN: "has a space in the middle" })).toEqual([
      "METRICS_TOKEN: must be printable ASCII without spaces",
    ]);
  });

  it("metrics: a listener beyond loopback needs a token", () => {
    const at = (vars: Record<string, string>) => metricsExposureProblem(loadEnv({ DATABASE_URL: DB, ...vars }));
    expect(at({})).toBeNull();
    expect(at({ METRICS_HOST: "::1" })).toBeNull();
    expect(at({ METRICS_HOST: "127.0.0.2" })).toBeNull();
    expect(at({ METRICS_HOST: "0.0.0.0", METRICS_PORT: "off" })).toBeNull();
    expect(at({ METRICS_HOST: "0.0.0.0", METRICS_TOKEN: "t".repeat(16) })).toBeNull();
    expect(at({ METRICS_HOST: "0.0.0.0" })).toMatch(
      /^METRICS_HOST=0\.0\.0\.0 serves \/metrics beyond this host: set METRICS_TOKEN/,
    );
    expect(at({ METRICS_HOST: "10.0.0.5" })).toMatch(/set METRICS_TOKEN/);
  });
});
