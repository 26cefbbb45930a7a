/**
 * The policy on the message path, end to end: fake DingTalk -> ingress -> queue -> decision from
 * the in-memory snapshot -> reply. Config changes reach the running worker through NOTIFY alone
 * (the revision poll is set far beyond the test), without a restart.
 */
import { DEFAULT_MAINTENANCE_MESSAGE } from "@clawgate/core";
import { NO_MODEL_REPLY } from "../agent/index.ts";
import { describe, expect, it } from "vitest";
import { query, waitFor } from "../../test/helpers.ts";
import { enableConversations, setConversation, setSafeMode, untilApplied } from "../../test/policy.ts";
import { DISABLED_REPLY, NOT_ENABLED_REPLY } from "./policy-gate.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({ name: "policy", ingress: true, policy: true, queue: true });

/** Delivers one message and returns the robot's reply and the inbound row's final status. */
async function talk(conversationId: string, text = "hello") {
  const { msgId, status } = await h.fake.deliver({ conversationId, text });
  expect(status).toBe(200);
  const [reply] = await h.fake.waitForReplies(conversationId, 1, 10_000);
  const inbound = await waitFor(
    async () => {
      const [row] = await query<{ status: string }>(
        h.testDb.url,
        `SELECT status FROM "InboundMessage" WHERE "msgId" = $1`,
        [msgId],
      );
      return row && row.status !== "RECEIVED" && row.status !== "PROCESSING" ? row.status : undefined;
    },
    5_000,
    "inbound handled",
  );
  return { text: reply!.text, inbound };
}

const decisions = async (outcome: string, reason: string) =>
  (await h.metrics.policyDecisions.get()).values.find((v) => v.labels.outcome === outcome && v.labels.reason === reason)
    ?.value ?? 0;

describe("the message gate", () => {
  it("answers an enabled conversation normally", async () => {
    await enableConversations(h.db, h.policy, "cid-on");
    const allowed = await decisions("allow", "none");
    expect(await talk("cid-on", "hello")).toEqual({ text: NO_MODEL_REPLY, inbound: "REPLIED" });
    expect(await decisions("allow", "none")).toBe(allowed + 1);
  });

  it("tells a new conversation it is not enabled, stores it PENDING and marks the message DENIED", async () => {
    const denied = await decisions("deny", "conversation.unknown");
    expect(await talk("cid-new")).toEqual({ text: NOT_ENABLED_REPLY, inbound: "DENIED" });
    const rows = await query(h.testDb.url, `SELECT status FROM "Conversation" WHERE "conversationId" = 'cid-new'`);
    expect(rows).toEqual([{ status: "PENDING" }]);
    expect(await decisions("deny", "conversation.unknown")).toBe(denied + 1);
    // Known to the snapshot as PENDING after the next reload: the same answer.
    await untilApplied(h.policy, await setConversation(h.db, "cid-other"));
    expect(await talk("cid-new")).toEqual({ text: NOT_ENABLED_REPLY, inbound: "DENIED" });
  });

  it("tells a disabled conversation an admin disabled it", async () => {
    await untilApplied(h.policy, await setConversation(h.db, "cid-off", "DISABLED"));
    expect(await talk("cid-off")).toEqual({ text: DISABLED_REPLY, inbound: "DENIED" });
  });

  it("answers with the maintenance message in safe mode, and normally again once it is off, without a restart", async () => {
    await enableConversations(h.db, h.policy, "cid-maint");
    await untilApplied(
      h.policy,
      await setSafeMode(h.db, { level: "MAINTENANCE", message: "Upgrading, back at 10:00." }),
    );
    expect(await talk("cid-maint")).toEqual({ text: "Upgrading, back at 10:00.", inbound: "DENIED" });
    await untilApplied(h.policy, await setSafeMode(h.db, { level: "MAINTENANCE" }));
    expect(await talk("cid-maint")).toEqual({ text: DEFAULT_MAINTENANCE_MESSAGE, inbound: "DENIED" });
    // NOTIFY is the only way in here (the poll is 10 min): it must apply within a second.
    await untilApplied(h.policy, await setSafeMode(h.db, null), 1_000);
    expect(await talk("cid-maint", "again")).toEqual({ text: NO_MODEL_REPLY, inbound: "REPLIED" });
  });
});
