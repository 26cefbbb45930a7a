/**
 * group.announce's send in the runtime, against PostgreSQL and the fake DingTalk's OpenAPI:
 * only into known, enabled groups; once per send key; throttled per group across replicas;
 * audited without the text; refusals send and record nothing.
 */
import { describe, expect, it } from "vitest";
import { APP_KEY } from "../../test/dingtalk.ts";
import { query } from "../../test/helpers.ts";
import { AnnounceRefusedError, createAnnouncer } from "./announce.ts";
import { realSenders } from "./queue.ts";
import { createThrottle } from "./throttle.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({
  name: "announce",
  pool: true,
  fakeDingtalk: true,
  setup: async () => {
    await h.db.conversation.createMany({
      data: [
        { conversationId: "cid-ops", type: "GROUP", status: "ENABLED" },
        { conversationId: "cid-busy", type: "GROUP", status: "ENABLED" },
        { conversationId: "cid-quiet", type: "GROUP", status: "ENABLED" },
        { conversationId: "cid-pending", type: "GROUP", status: "PENDING" },
        { conversationId: "cid-single", type: "SINGLE", status: "ENABLED" },
      ],
    });
  },
});

function announcer(limit = { points: 5, durationSec: 3_600 }, senders = realSenders(h.queueEnv())) {
  return createAnnouncer({
    db: h.db,
    pool: h.pool,
    throttle: createThrottle(h.pool),
    senders,
    defaultRobotCode: APP_KEY,
    limit,
  });
}

const sentTo = (cid: string) => h.fake.sent.filter((s) => s.conversationId === cid);
const audits = (cid: string) =>
  h.db.auditLog.findMany({ where: { action: "message.announce", targetId: cid }, orderBy: { id: "asc" } });

async function refused(p: Promise<void>): Promise<string> {
  const error = await p.then(
    () => new Error("expected a refusal"),
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(AnnounceRefusedError);
  return error.message;
}

describe("group announcements", () => {
  it("posts markdown through the OpenAPI group send, once per key, audited without the text", async () => {
    const announce = announcer();
    await announce("trace-a:req-1")("cid-ops", "Maintenance", "Deploy **tonight** at 22:00");
    await announce("trace-a:req-1")("cid-ops", "Maintenance", "Deploy **tonight** at 22:00"); // a retried job

    expect(sentTo("cid-ops")).toHaveLength(1);
    expect(sentTo("cid-ops")[0]).toMatchObject({
      via: "groupMessages",
      msgKey: "sampleMarkdown",
      title: "Maintenance",
      text: "Deploy **tonight** at 22:00",
    });
    expect(
      await query(
        h.testDb.url,
        `SELECT status, channel FROM "OutboundMessage" WHERE "idempotencyKey" = 'announce:trace-a:req-1'`,
      ),
    ).toEqual([{ status: "SENT", channel: "OPENAPI_GROUP" }]);
    const [entry, ...more] = await audits("cid-ops");
    expect(more).toHaveLength(0);
    expect(entry).toMatchObject({ actorType: "RUNTIME", targetType: "conversation", traceId: "trace-a:req-1" });
    expect(entry!.diff).toEqual({ skill: "group.announce", channel: "OPENAPI_GROUP", titleChars: 11, textChars: 27 });
    expect(JSON.stringify({ ...entry, id: String(entry!.id) })).not.toContain("tonight");

    await announce("trace-a:req-2")("cid-ops", "Maintenance", "Postponed"); // another request is another send
    expect(sentTo("cid-ops")).toHaveLength(2);
  });

  it("refuses unknown groups, single chats and groups the robot is not enabled in; nothing sent or recorded", async () => {
    const announce = announcer()("trace-b");
    expect(await refused(announce("cid-nowhere", "T", "x"))).toMatch(/does not know the group "cid-nowhere"/);
    expect(await refused(announce("cid-single", "T", "x"))).toMatch(/is a single chat, not a group/);
    expect(await refused(announce("cid-pending", "T", "x"))).toMatch(
      /not enabled in the group "cid-pending"; an admin can enable it/,
    );
    const noCredentials = announcer(undefined, { webhook: async () => {} })("trace-b");
    expect(await refused(noCredentials("cid-ops", "T", "x"))).toMatch(/DINGTALK_APP_KEY, DINGTALK_APP_SECRET/);
    for (const cid of ["cid-nowhere", "cid-single", "cid-pending"]) {
      expect(sentTo(cid)).toHaveLength(0);
      expect(await audits(cid)).toHaveLength(0);
    }
    expect(
      await query(h.testDb.url, `SELECT 1 FROM "OutboundMessage" WHERE "idempotencyKey" = 'announce:trace-b'`),
    ).toEqual([]);
  });

  it("throttles per group across replicas: over the limit it refuses with when to try again", async () => {
    const limit = { points: 2, durationSec: 3_600 };
    const [replicaA, replicaB] = [announcer(limit), announcer(limit)];
    await replicaA("trace-c:1")("cid-busy", "T", "one");
    await replicaB("trace-c:2")("cid-busy", "T", "two");
    expect(await refused(replicaA("trace-c:3")("cid-busy", "T", "three"))).toMatch(
      /had 2 announcements in the last 60 min already; try again in (59|60) min/,
    );
    expect(sentTo("cid-busy").map((s) => s.text)).toEqual(["one", "two"]);
    expect(await audits("cid-busy")).toHaveLength(2);
    // Other groups have their own window; a retry of a sent request does not count again.
    await replicaA("trace-c:1")("cid-busy", "T", "one");
    await replicaB("trace-c:4")("cid-quiet", "T", "elsewhere");
    expect(sentTo("cid-quiet")).toHaveLength(1);
    expect(sentTo("cid-busy")).toHaveLength(2);
  });
});
