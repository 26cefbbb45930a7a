// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { endIncidentTrigger, openOrJoinIncident } from "@clawgate/core/incidents.ts";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { incidentRouter } from "./incident.ts";

// No demo seed: the router works on a database that never saw it.
const t = routerTest(createTRPCRouter({ incident: incidentRouter }), { prefix: "clawgate_console_incident" });

describe("incident router", () => {
  it("lists and reports for every role; only operators and admins review; a refusal is audited without the input", async () => {
    const opened = await t.db.$transaction((tx) =>
      openOrJoinIncident(tx, {
        kind: "kill_switch",
        refId: "ks1",
        summary: "Kill switch on",
        actor: { type: "CLI", name: "cli:oncall" },
      }),
    );
    const list = await t.as("VIEWER").incident.list({ status: "UNREVIEWED" });
    expect(list).toMatchObject([{ id: opened.incidentId, status: "OPEN", triggers: [{ kind: "kill_switch" }] }]);
    const report = await t.as("APPROVER").incident.report({ id: opened.incidentId });
    expect(report.entries.map((e) => e.kind)).toEqual(["trigger", "audit"]);
    await expect(t.as("VIEWER").incident.report({ id: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });

    await t.db.$transaction((tx) => endIncidentTrigger(tx, { kind: "kill_switch", refId: "ks1" }));
    for (const role of ["VIEWER", "APPROVER"] as const) {
      await expect(t.as(role).incident.review({ id: opened.incidentId, review: "secret words" })).rejects.toMatchObject(
        { code: "FORBIDDEN" },
      );
    }
    const refused = await t.db.auditLog.findMany({ where: { action: "auth.refused" }, orderBy: { id: "asc" } });
    expect(refused.map((r) => [r.actorName, r.targetId, r.diff])).toEqual([
      ["viewer@example.test", "incident.review", { path: "incident.review", role: "VIEWER" }],
      ["approver@example.test", "incident.review", { path: "incident.review", role: "APPROVER" }],
    ]);
    expect(JSON.stringify(refused.map((r) => r.diff))).not.toContain("secret words");
    // Refused reads are not audited (queries), only mutations.
    expect((await t.as("VIEWER").incident.list()).length).toBe(1);

    await expect(t.as("OPERATOR").incident.review({ id: opened.incidentId, review: " " })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await t.as("OPERATOR").incident.review({ id: opened.incidentId, review: "Learned." })).toEqual({
      id: opened.incidentId,
      status: "REVIEWED",
    });
    expect(await t.as("VIEWER").incident.list({ status: "UNREVIEWED" })).toEqual([]);
    expect((await t.as("VIEWER").incident.report({ id: opened.incidentId })).incident).toMatchObject({
      status: "REVIEWED",
      reviewedBy: "operator@example.test",
      review: "Learned.",
    });
  });
});
