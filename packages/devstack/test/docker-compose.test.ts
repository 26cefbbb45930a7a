// No Docker engine runs on the build machines: the compose file is checked by parsing it.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { REPO_ROOT } from "../src/paths.ts";

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
}

const file = readFileSync(path.join(REPO_ROOT, "docker-compose.yml"), "utf8");
const compose = parse(file) as { services: Record<string, Service>; volumes: Record<string, unknown> };

describe("docker-compose.yml", () => {
  it("is valid YAML with no parse warnings", () => {
    const doc = parseDocument(file);
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
  });

  it("runs postgres, a one-shot migration, the runtime and the console", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["console", "migrate", "postgres", "runtime"]);
    expect(compose.services.migrate?.command).toEqual(["migrate"]);
    expect(compose.services.runtime?.depends_on?.migrate?.condition).toBe("service_completed_successfully");
    expect(compose.services.console?.depends_on?.migrate?.condition).toBe("service_completed_successfully");
    expect(compose.services.migrate?.depends_on?.postgres?.condition).toBe("service_healthy");
    expect(compose.volumes).toHaveProperty("pgdata");
  });

  it("health-checks the runtime's /ready and the console's /api/health", () => {
    expect(compose.services.runtime?.healthcheck?.test.join(" ")).toContain("/ready");
    expect(compose.services.console?.healthcheck?.test.join(" ")).toContain("/api/health");
  });

  it("builds from Dockerfiles that exist", () => {
    for (const s of Object.values(compose.services)) {
      if (s.build)
        expect(existsSync(path.join(REPO_ROOT, s.build.context, s.build.dockerfile)), s.build.dockerfile).toBe(true);
    }
  });

  it("gives the runtime and console the env names the apps read", () => {
    const runtimeEnv = Object.keys(compose.services.runtime?.environment ?? {});
    expect(runtimeEnv).toEqual(
      expect.arrayContaining(["DATABASE_URL", "PORT", "DINGTALK_MODE", "DINGTALK_APP_KEY", "DINGTALK_APP_SECRET"]),
    );
    const consoleEnv = Object.keys(compose.services.console?.environment ?? {});
    expect(consoleEnv).toEqual(
      expect.arrayContaining([
        "DATABASE_URL",
        "NEXTAUTH_URL",
        "NEXTAUTH_SECRET",
        "OIDC_ISSUER",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
      ]),
    );
  });

  it("holds no secret values, only references to the environment", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/SECRET|PASSWORD|API_KEY|AES_KEY|TOKEN/.test(key))
          expect(value, `${name}.${key}`).toMatch(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
      }
      expect(JSON.stringify(s.environment ?? {}), name).not.toMatch(/postgresql:\/\/[^:]+:[^$][^@]*@/);
    }
  });

  it("keeps the console off public interfaces", () => {
    expect(compose.services.console?.ports?.every((p) => p.startsWith("127.0.0.1:"))).toBe(true);
  });
});
