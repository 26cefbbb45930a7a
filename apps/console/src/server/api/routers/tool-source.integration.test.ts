// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { seedDemo } from "@clawgate/core";
import { definitionHash } from "@clawgate/skills";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { toolSourceRouter } from "./tool-source.ts";

const DEF = {
  description: "Create a CRM note",
  inputSchema: { type: "object", properties: { text: { type: "string" } } },
  annotations: { readOnlyHint: false },
};

const t = routerTest(createTRPCRouter({ toolSource: toolSourceRouter }), {
  prefix: "clawgate_console_tools",
  seed: async (db) => {
    await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
    const server = await db.mcpServer.create({ data: { name: "crm", url: "https://mcp.crm.example/mcp" } });
    await db.skill.create({
      data: {
        key: "mcp.crm.add_note",
        description: DEF.description,
        riskClass: "WRITE",
        requiresApproval: true,
        source: "MCP",
        untrustedOutput: true,
        definition: DEF,
        mcpServerId: server.id,
        toolName: "add_note",
      },
    });
  },
});
const counts = async () => ({
  audit: await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  revisions: await t.db.configRevision.count(),
});

describe("toolSource router", () => {
  it("every role lists servers and tools; only ADMIN changes anything", async () => {
    const list = await t.as("VIEWER").toolSource.list();
    expect(list.servers.map((s) => [s.name, s.status, s.tools.map((x) => [x.key, x.state, x.enabled])])).toEqual([
      ["crm", "not listed yet", [["mcp.crm.add_note", "unapproved", false]]],
    ]);
    const before = await counts();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      await expect(t.as(role).toolSource.enable({ key: "mcp.crm.add_note", enabled: true })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      await expect(t.as(role).toolSource.refresh({ name: "crm" })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        t.as(role).toolSource.upsertServer({ name: "x", url: "https://x.example/mcp" }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await counts()).toEqual(before);
  });

  it("an admin enables a tool: pinned, audited with a revision; never below its annotations' risk", async () => {
    const admin = t.as("ADMIN");
    const before = await counts();
    await expect(
      admin.toolSource.enable({ key: "mcp.crm.add_note", enabled: true, riskClass: "READ" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(admin.toolSource.enable({ key: "kb.search", enabled: true })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await counts()).toEqual(before);
    const r = await admin.toolSource.enable({ key: "mcp.crm.add_note", enabled: true, riskClass: "DESTRUCTIVE" });
    expect(r.summary).toBe('Tool "mcp.crm.add_note": enabled as DESTRUCTIVE, definition pinned');
    const row = await t.db.skill.findUniqueOrThrow({ where: { key: "mcp.crm.add_note" } });
    expect(row).toMatchObject({ enabled: true, riskClass: "DESTRUCTIVE", approvedHash: definitionHash(DEF) });
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { action: "tool.enable" } });
    expect(audit).toMatchObject({ targetId: "mcp.crm.add_note", actorId: "u-admin", configRevision: r.revision });
    await expect(admin.toolSource.approveChange({ key: "mcp.crm.add_note" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
  });

  it("an MCP server's header must name an allowed env var, never one of Clawgate's own settings", async () => {
    const admin = t.as("ADMIN");
    await expect(
      admin.toolSource.upsertServer({
        name: "wiki",
        url: "https://wiki.example/mcp",
        headers: { Authorization: "NEXTAUTH_SECRET" },
      }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await t.db.mcpServer.count({ where: { name: "wiki" } })).toBe(0);
    const ok = await admin.toolSource.upsertServer({
      name: "wiki",
      url: "https://wiki.example/mcp",
      headers: { Authorization: "WIKI_MCP_TOKEN" },
    });
    expect(ok.revision).toBeGreaterThan(0);
    await expect(
      admin.toolSource.upsertServer({
        name: "wiki",
        url: "https://wiki.example/mcp",
        headers: { Authorization: "WIKI_MCP_TOKEN" },
      }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
  });
});
