// No Docker engine runs on the build machines: the compose file and the Dockerfiles are checked by
// parsing them. The edge config they mount runs for real in apps/bot/src/proxy.integration.test.ts.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import semver from "semver";
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
  networks?: string[];
  volumes?: string[];
  profiles?: string[];
  restart?: string;
  secrets?: string[];
}

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), "utf8");
const file = read("docker-compose.yml");
const compose = parse(file) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { environment?: string }>;
  networks: Record<string, { internal?: boolean } | null>;
};
const services = compose.services;
const svc = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};
/** `${VAR:-default}` or `${VAR:?message}`: the value comes from the environment. */
const FROM_ENV = /^\$\{[A-Z0-9_]+(:[-?][^}]*)?\}$/;

describe("docker-compose.yml", () => {
  it("is valid YAML with no parse warnings", () => {
    const doc = parseDocument(file);
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
  });

  it("runs postgres, a one-shot migration before the apps, the runtime, the console and the proxy", () => {
    expect(Object.keys(services).sort()).toEqual([
      "console",
      "migrate",
      "ollama",
      "postgres",
      "prometheus",
      "proxy",
      "runtime",
    ]);
    expect(svc("migrate").command).toEqual(["migrate"]);
    expect(svc("migrate").restart).toBe("no");
    expect(svc("migrate").depends_on?.postgres?.condition).toBe("service_healthy");
    expect(svc("runtime").depends_on?.migrate?.condition).toBe("service_completed_successfully");
    expect(svc("console").depends_on?.migrate?.condition).toBe("service_completed_successfully");
    expect(svc("proxy").depends_on?.runtime?.condition).toBe("service_healthy");
    expect(svc("postgres").volumes).toContain("pgdata:/var/lib/postgresql/data");
    expect(compose.volumes).toHaveProperty("pgdata");
  });

  it("health-checks every long-running service", () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === "migrate") continue;
      expect(s.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(svc("runtime").healthcheck?.test.join(" ")).toContain("http://127.0.0.1:8080/ready");
    expect(svc("console").healthcheck?.test.join(" ")).toContain("http://127.0.0.1:3000/api/health");
    expect(svc("proxy").healthcheck?.test.join(" ")).toContain("/dev/tcp/127.0.0.1/8081");
    expect(read("deploy/nginx/clawgate.conf")).toContain("listen 127.0.0.1:8081;");
  });

  it("publishes only the proxy's 443; the console and Prometheus on loopback only; nothing else", () => {
    expect(svc("proxy").ports).toEqual(["443:443"]);
    expect(svc("console").ports).toEqual(["127.0.0.1:3000:3000"]);
    expect(svc("prometheus").ports).toEqual(["127.0.0.1:9090:9090"]);
    for (const name of ["postgres", "migrate", "runtime", "ollama"]) expect(svc(name).ports, name).toBeUndefined();
  });

  it("keeps the database and the runtime off the public edge", () => {
    expect(compose.networks.backend?.internal).toBe(true);
    expect(svc("postgres").networks).toEqual(["backend"]);
    expect(svc("migrate").networks).toEqual(["backend"]);
    expect(svc("proxy").networks?.sort()).toEqual(["backend", "edge"]);
    for (const name of ["runtime", "console", "ollama"]) expect(svc(name).networks, name).not.toContain("edge");
  });

  it("mounts the repo's nginx config where clawgate.conf includes it, and the TLS folder", () => {
    const volumes = svc("proxy").volumes ?? [];
    const mounts = volumes.map((v) => v.split(":"));
    for (const [source] of mounts.filter(([s]) => s?.startsWith("./deploy/nginx/")))
      expect(existsSync(path.join(REPO_ROOT, source!)), source).toBe(true);
    expect(volumes).toContain("./deploy/nginx/clawgate.conf:/etc/nginx/conf.d/default.conf:ro");
    const include = /include (\S+);/.exec(read("deploy/nginx/clawgate.conf"))?.[1];
    expect(volumes).toContain(`./deploy/nginx/dingtalk-ingress.conf:${include}:ro`);
    expect(volumes).toContain("${CLAWGATE_TLS_DIR:-./deploy/tls}:/etc/nginx/certs:ro");
  });

  it("runs images whose Dockerfiles expose the ports the healthchecks and nginx use", () => {
    const bot = read("apps/bot/Dockerfile");
    expect(bot).toContain("EXPOSE 8080");
    expect(bot).toContain('ENTRYPOINT ["node", "apps/bot/bin/clawgate.mjs"]');
    expect(existsSync(path.join(REPO_ROOT, "apps/bot/bin/clawgate.mjs"))).toBe(true);
    expect(read("deploy/nginx/clawgate.conf")).toContain("server runtime:8080;");
    expect(read("apps/console/Dockerfile")).toContain('"start", "-p", "3000"');
  });

  it("takes every image from a variable (pinnable by digest); migrate runs the runtime's image", () => {
    for (const [name, s] of Object.entries(services)) expect(s.image, name).toMatch(/^\$\{[A-Z_]+_IMAGE:-[^}]+\}$/);
    expect(svc("migrate").image).toBe(svc("runtime").image);
    for (const s of Object.values(services)) {
      if (s.build)
        expect(existsSync(path.join(REPO_ROOT, s.build.context, s.build.dockerfile)), s.build.dockerfile).toBe(true);
    }
  });

  it("gives the runtime and console the env names the apps read", () => {
    const runtimeEnv = Object.keys(svc("runtime").environment ?? {});
    expect(runtimeEnv).toEqual(
      expect.arrayContaining([
        "DATABASE_URL",
        "PORT",
        "DINGTALK_MODE",
        "DINGTALK_APP_KEY",
        "DINGTALK_APP_SECRET",
        "LOCAL_MODEL_BASE_URL",
      ]),
    );
    const consoleEnv = Object.keys(svc("console").environment ?? {});
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

  it("holds no secret values, only references to the environment, and requires the essential ones", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/SECRET|PASSWORD|API_KEY|AES_KEY|TOKEN|DATA_KEYS/.test(key))
          expect(value, `${name}.${key}`).toMatch(FROM_ENV);
      }
      expect(JSON.stringify(s.environment ?? {}), name).not.toMatch(/postgresql:\/\/[^:]+:[^$][^@]*@/);
    }
    for (const [name, key] of [
      ["postgres", "POSTGRES_PASSWORD"],
      ["runtime", "DINGTALK_APP_SECRET"],
      ["console", "NEXTAUTH_SECRET"],
      ["console", "OIDC_CLIENT_SECRET"],
      ["runtime", "CLAWGATE_DATA_KEYS"],
      ["console", "CLAWGATE_DATA_KEYS"],
    ] as const)
      expect(svc(name).environment?.[key], `${name}.${key}`).toMatch(/^\$\{[A-Z_]+:\?/);
    expect(svc("runtime").environment?.DATABASE_URL).toContain("${POSTGRES_PASSWORD:?");
  });

  it("serves the runtime's metrics on their own port, to a token, on an internal network with Prometheus only", () => {
    const env = svc("runtime").environment ?? {};
    expect(env.METRICS_PORT).toBe("9464");
    expect(env.METRICS_HOST).toBe("0.0.0.0");
    expect(env.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN:\?/);
    expect(compose.networks.monitoring?.internal).toBe(true);
    const onMonitoring = Object.entries(services).filter(([, s]) => s.networks?.includes("monitoring"));
    expect(onMonitoring.map(([name]) => name).sort()).toEqual(["prometheus", "runtime"]);
    expect(svc("prometheus").networks).toEqual(["monitoring"]);
    // Prometheus reads the same token from a secret; its config and rules are the repo's files.
    expect(compose.secrets.metrics_token).toEqual({ environment: "METRICS_TOKEN" });
    expect(svc("prometheus").secrets).toEqual(["metrics_token"]);
    const prometheusYml = read("deploy/prometheus/prometheus.yml");
    expect(prometheusYml).toContain("credentials_file: /run/secrets/metrics_token");
    expect(prometheusYml).toContain("port: 9464");
    for (const v of svc("prometheus").volumes ?? []) {
      const source = v.split(":")[0]!;
      if (source.startsWith("./")) expect(existsSync(path.join(REPO_ROOT, source)), source).toBe(true);
    }
    // nginx forwards nothing to the metrics port.
    expect(read("deploy/nginx/clawgate.conf")).not.toContain("9464");
    expect(read("deploy/nginx/dingtalk-ingress.conf")).not.toContain("9464");
  });

  it("offers a model gateway only under the `model` profile, Prometheus only under `monitoring`", () => {
    expect(svc("ollama").profiles).toEqual(["model"]);
    expect(svc("prometheus").profiles).toEqual(["monitoring"]);
    for (const [name, s] of Object.entries(services))
      if (name !== "ollama" && name !== "prometheus") expect(s.profiles, name).toBeUndefined();
    expect(file).toContain("LOCAL_MODEL_BASE_URL=http://ollama:11434/v1");
  });
});

describe("Node.js version", () => {
  const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
  const major = read(".nvmrc").trim();

  it("is stated once: engines, .nvmrc, both Dockerfiles and the README agree", () => {
    expect(engines.startsWith(`^${major}.`)).toBe(true);
    const minimum = /^\^(\d+\.\d+)/.exec(engines)?.[1];
    for (const dockerfile of ["apps/bot/Dockerfile", "apps/console/Dockerfile"]) {
      const froms = [...read(dockerfile).matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
      expect(froms.length, dockerfile).toBeGreaterThan(0);
      for (const from of froms) expect(from, dockerfile).toMatch(new RegExp(`^node:${major}(\\.|-)`));
    }
    expect(read("README.md")).toContain(`Node.js ${minimum}`);
  });

  it("satisfies every installed package's engines (npm warns otherwise, and some refuse to run)", () => {
    const lock = JSON.parse(read("package-lock.json")) as {
      packages: Record<
        string,
        { version?: string; optional?: boolean; os?: string[]; cpu?: string[]; engines?: { node?: string } }
      >;
    };
    // Other platforms' optional builds (sharp's win32 binaries, ...) are never installed here.
    const foreign = (p: { optional?: boolean; os?: string[]; cpu?: string[] }) =>
      p.optional === true &&
      ((p.os !== undefined && !p.os.includes(process.platform)) ||
        (p.cpu !== undefined && !p.cpu.includes(process.arch)));
    const floors = engines.split("||").map((r) => semver.minVersion(r.trim())!.version);
    const refused = Object.entries(lock.packages).flatMap(([name, p]) =>
      foreign(p)
        ? []
        : floors
            .filter((v) => p.engines?.node && !semver.satisfies(v, p.engines.node))
            .map((v) => `${name}@${p.version} needs node ${p.engines?.node} (not ${v})`),
    );
    expect(refused).toEqual([]);
  });

  it("builds the console image without switching env validation off", () => {
    expect(read("apps/console/Dockerfile")).not.toContain("SKIP_ENV_VALIDATION");
  });
});
