/**
 * The monitoring that ships with the runtime (deploy/prometheus, deploy/grafana): the alert rules
 * pass Debian's promtool (`check rules` and the unit tests in alerts.test.yml), the scrape config
 * passes `check config`, every dashboard query is valid PromQL, and every metric name the rules
 * and the dashboard use is one the runtime's registry exports. .ci/run installs promtool.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { afterAll, describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.ts";

const run = promisify(execFile);
const PROMETHEUS = path.join(REPO_ROOT, "deploy/prometheus");
const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), "utf8");
const tmp = mkdtempSync(path.join(os.tmpdir(), "clawgate-promtool-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs promtool; resolves with its output, rejects with it (stdout and stderr) on a non-zero exit. */
async function promtool(args: string[], cwd = PROMETHEUS): Promise<string> {
  try {
    const { stdout, stderr } = await run("promtool", args, { cwd, timeout: 60_000 });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
}

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string; refId: string }[];
  gridPos: { x: number; y: number; w: number; h: number };
}
const dashboard = JSON.parse(read("deploy/grafana/clawgate.json")) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
};
const dashboardExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);
const alertsYml = read("deploy/prometheus/alerts.yml");

/** Every metric name a series name in the runtime's exposition can have (histograms: _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>(["up"]);
  for (const m of await createMetrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
  }
  return names;
}
const usedNames = (text: string) => new Set([...text.matchAll(/\bclawgate_[a-z0-9_]+\b/g)].map((m) => m[0]));

describe("Prometheus rules and config (promtool)", () => {
  it("alerts.yml passes promtool check rules", async () => {
    expect(await promtool(["check", "rules", "alerts.yml"])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("alerts.yml passes its unit tests (alerts.test.yml)", async () => {
    expect(await promtool(["test", "rules", "alerts.test.yml"])).toContain("SUCCESS");
  });

  it("covers sustained failures, spikes, silence, queue age, config lag, breakers and dead letters", () => {
    const alerts = [...alertsYml.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts).toEqual(
      expect.arrayContaining([
        "ClawgateRuntimeDown",
        "ClawgateNoInboundInBusinessHours",
        "ClawgateModelFailing",
        "ClawgateToolFailing",
        "ClawgateMessageSpike",
        "ClawgateQueueBehind",
        "ClawgateReplicaBehindOnConfig",
        "ClawgateBreakerOpen",
        "ClawgateDeadLettersGrowing",
      ]),
    );
    // Each alert says what to do in the operations guide.
    const ops = read("docs/operations.md");
    for (const alert of alerts) expect(ops, alert).toContain(`\`${alert}\``);
  });

  it("prometheus.yml passes promtool check config (with a stand-in token file)", async () => {
    copyFileSync(path.join(PROMETHEUS, "alerts.yml"), path.join(tmp, "alerts.yml"));
    writeFileSync(path.join(tmp, "metrics_token"), "stand-in-token-0123456789\n");
    const config = read("deploy/prometheus/prometheus.yml");
    expect(config).toContain("job_name: clawgate-runtime");
    writeFileSync(
      path.join(tmp, "prometheus.yml"),
      config.replace("/run/secrets/metrics_token", path.join(tmp, "metrics_token")),
    );
    expect(await promtool(["check", "config", "prometheus.yml"], tmp)).toContain("SUCCESS");
  });
});

describe("the Grafana dashboard", () => {
  it("is a dashboard with a Prometheus data source variable, unique panel ids and queries", () => {
    expect(dashboard.uid).toBe("clawgate-runtime");
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(["datasource", "instance"]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type !== "row") expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    expect(dashboardExprs.length).toBeGreaterThan(20);
  });

  it("every panel query is valid PromQL (promtool checks them as recording rules)", async () => {
    const rules = dashboardExprs.map(({ expr }, i) => ({
      record: `dashboard:query_${i}`,
      // Grafana's variables as Prometheus would see them.
      expr: expr.replaceAll("$__rate_interval", "5m").replaceAll("$instance", ".*"),
    }));
    writeFileSync(path.join(tmp, "dashboard-rules.yml"), JSON.stringify({ groups: [{ name: "dashboard", rules }] }));
    expect(await promtool(["check", "rules", "dashboard-rules.yml"], tmp)).toContain(`SUCCESS: ${rules.length} rules`);
  });
});

describe("metric names", () => {
  it("every name the alerts and the dashboard use is exported by the runtime's registry", async () => {
    const exported = await exportedNames();
    const used = new Set([...usedNames(alertsYml), ...dashboardExprs.flatMap(({ expr }) => [...usedNames(expr)])]);
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });

  it("the registry exports what the issue asks to watch", async () => {
    const exported = await exportedNames();
    for (const name of [
      "clawgate_ingress_messages_total",
      "clawgate_outbound_messages_total",
      "clawgate_policy_decisions_total",
      "clawgate_tool_calls_total",
      "clawgate_model_request_duration_seconds_bucket",
      "clawgate_model_tokens_total",
      "clawgate_queue_depth",
      "clawgate_queue_oldest_job_age_seconds",
      "clawgate_breaker_open",
      "clawgate_config_revision_applied",
      "clawgate_config_revision_latest",
      "clawgate_approvals",
      "clawgate_process_start_time_seconds",
      "clawgate_runtime_instances",
    ])
      expect(exported.has(name), name).toBe(true);
  });
});
