/**
 * `mcp_servers` and `http_tools` in the onboard YAML: applied in one revision with header values
 * as env var names (never values), refused when a header names one of Clawgate's own settings or
 * holds a literal, and exported so that onboarding the export plans no change.
 */
import { createDb, type Db } from "@clawgate/db";
import { definitionHash } from "@clawgate/skills";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../devstack/src/testdb.ts";
import { applyOnboard, exportConfigYaml, parseOnboardConfig } from "../config/onboard.ts";
import { DomainError } from "../errors.ts";
import { DEFAULT_SECRET_REF_POLICY } from "../secret-refs.ts";
import { listToolSources } from "./sources.ts";

const FILE = `
mcp_servers:
  crm:
    url: https://mcp.crm.example/mcp
    headers:
      Authorization: \${CRM_MCP_TOKEN}
    timeout_ms: 4000
    max_concurrency: 3
http_tools:
  http.ci_build:
    description: Look up a CI build by number
    method: GET
    url: https://ci.corp.example/api/builds/{build}
    headers:
      Authorization: \${CI_API_TOKEN}
    input_schema:
      type: object
      properties: { build: { type: string, pattern: "^[0-9]+$" } }
      required: [build]
    risk_class: read
    max_bytes: 65536
    json_path: $.status
`;

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_onboard_tools" });
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("onboard: mcp_servers and http_tools", () => {
  it("applies them in one revision, keeps header env var names, and an export round-trips", async () => {
    const first = await applyOnboard(db, parseOnboardConfig(FILE));
    expect(first.configRevision).not.toBeNull();
    expect(first.changes.map((c) => `${c.action} ${c.target} ${c.id}`)).toEqual([
      "create mcp_server crm",
      "create http_tool http.ci_build",
    ]);
    const server = await db.mcpServer.findUniqueOrThrow({ where: { name: "crm" } });
    expect(server).toMatchObject({ headers: { Authorization: "CRM_MCP_TOKEN" }, timeoutMs: 4_000, maxConcurrency: 3 });
    const tool = await db.skill.findUniqueOrThrow({ where: { key: "http.ci_build" } });
    expect(tool).toMatchObject({ source: "HTTP", riskClass: "READ", enabled: true, untrustedOutput: true });
    expect(tool.approvedHash).toBe(definitionHash(tool.definition as object));
    const sources = await listToolSources(db);
    expect(sources.servers[0]).toMatchObject({ name: "crm", headers: ["Authorization"], status: "not listed yet" });
    expect(sources.httpTools.map((t) => [t.key, t.state])).toEqual([["http.ci_build", "approved"]]);

    const yaml = await exportConfigYaml(db);
    expect(yaml).toContain("Authorization: ${CRM_MCP_TOKEN}");
    expect(yaml).not.toMatch(/Bearer/);
    const again = await applyOnboard(db, parseOnboardConfig(yaml));
    expect(again).toEqual({ changes: [], configRevision: null });
  });

  it("refuses a literal header value, a reserved env var and a key taken by a built-in skill; writes nothing", async () => {
    const literal = (() => {
      try {
        return parseOnboardConfig(
          `mcp_servers:\n  x:\n    url: https://x.example/mcp\n    headers: { Authorization: Bearer abc }\n`,
        );
      } catch (e) {
        return e;
      }
    })();
    expect(literal).toBeInstanceOf(DomainError);
    expect((literal as DomainError).problems).toEqual([expect.stringMatching(/a literal header value is not allowed/)]);
    const revisions = await db.configRevision.count();
    const bad = parseOnboardConfig(
      `mcp_servers:\n  x:\n    url: https://x.example/mcp\n    headers: { Authorization: "\${DATABASE_URL}" }\n` +
        `http_tools:\n  http.fetch:\n    description: d\n    method: GET\n    url: https://a.example/x\n    risk_class: read\n`,
    );
    const error = await applyOnboard(db, bad, { secretRefs: DEFAULT_SECRET_REF_POLICY }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).problems).toEqual([
      expect.stringMatching(/^mcp_servers\.x\.headers\.Authorization: DATABASE_URL is one of Clawgate's own settings/),
      "http_tools.http.fetch: the key is taken by a builtin skill",
    ]);
    expect(await db.mcpServer.count({ where: { name: "x" } })).toBe(0);
    expect(await db.configRevision.count()).toBe(revisions);
  });
});
