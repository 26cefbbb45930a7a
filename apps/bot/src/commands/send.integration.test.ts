/**
 * `clawgate send` as a child process against real PostgreSQL and the fake DingTalk's OpenAPI.
 */
import { verifyAuditChain } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { APP_KEY, APP_SECRET, robotMessage } from "../../test/dingtalk.ts";
import { cliEnv, runCli } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({
  name: "send",
  dbOptions: { max: 2 },
  fakeDingtalk: true,
  setup: async () => {
    await h.db.conversation.create({
      data: { conversationId: "cid-ops", type: "GROUP", robotCode: APP_KEY, status: "ENABLED" },
    });
    await h.db.conversation.create({ data: { conversationId: "cid-single", type: "SINGLE", robotCode: APP_KEY } });
    await h.db.conversation.create({ data: { conversationId: "cid-single-unknown", type: "SINGLE" } });
    const payload = robotMessage({ conversationId: "cid-single", conversationType: "1", senderStaffId: "staff-42" });
    await h.db.inboundMessage.create({
      data: {
        robotCode: APP_KEY,
        msgId: String(payload.msgId),
        channel: "HTTP",
        conversationId: "cid-single",
        senderId: "staff-42",
        msgType: "text",
        payload: payload as object,
        traceId: "t1",
      },
    });
  },
});

/** The CLI's environment: the test database and the fake DingTalk's OpenAPI. */
const cliEnvFor = () =>
  cliEnv({
    DATABASE_URL: h.testDb.url,
    DINGTALK_APP_KEY: APP_KEY,
    DINGTALK_APP_SECRET: APP_SECRET,
    DINGTALK_API_BASE: h.fake.url,
  });

const sendAudits = () => h.db.auditLog.findMany({ where: { action: "message.send" }, orderBy: { id: "asc" } });

describe("clawgate send", () => {
  it("sends to a group through the OpenAPI, records the send and audits it as the CLI (without the text)", async () => {
    const run = await runCli(
      ["send", "--to", "cid-ops", "--text", "Deploy at 18:00, expect a short outage."],
      cliEnvFor(),
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Sent to cid-ops (group");
    expect(h.fake.sent).toEqual([
      expect.objectContaining({
        via: "groupMessages",
        conversationId: "cid-ops",
        text: "Deploy at 18:00, expect a short outage.",
      }),
    ]);
    expect(await h.db.outboundMessage.findMany({ where: { conversationId: "cid-ops" } })).toEqual([
      expect.objectContaining({
        channel: "OPENAPI_GROUP",
        status: "SENT",
        attempts: 1,
        payload: { msgtype: "text", text: { content: "Deploy at 18:00, expect a short outage." } },
      }),
    ]);
    const [audit] = await sendAudits();
    expect(audit).toMatchObject({
      actorType: "CLI",
      targetType: "conversation",
      targetId: "cid-ops",
      diff: { channel: "OPENAPI_GROUP", chars: 39 },
    });
    expect(audit!.actorName).toMatch(/^clawgate send \(.+@.+\)$/);
    expect(JSON.stringify(audit!.diff)).not.toContain("Deploy");
    expect(await verifyAuditChain(h.db)).toBeNull();
  });

  it("sends to a single chat's user (from the last stored message)", async () => {
    const run = await runCli(["send", "--to", "cid-single", "--text", "hi"], cliEnvFor());
    expect(run.code).toBe(0);
    expect(h.fake.sent.at(-1)).toMatchObject({ via: "oToMessages", userIds: ["staff-42"], text: "hi" });
  });

  it("refuses an unknown conversation, bad text and missing credentials: clear errors, nothing written or sent", async () => {
    const before = {
      sent: h.fake.sent.length,
      audits: (await sendAudits()).length,
      outbound: await h.db.outboundMessage.count(),
    };
    const unknown = await runCli(["send", "--to", "cid-nope", "--text", "hello"], cliEnvFor());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown conversation "cid-nope"');
    const noUser = await runCli(["send", "--to", "cid-single-unknown", "--text", "hello"], cliEnvFor());
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toContain("single chat");
    const empty = await runCli(["send", "--to", "cid-ops", "--text", "   "], cliEnvFor());
    expect(empty).toMatchObject({ code: 2, stderr: expect.stringContaining("--text is empty") });
    const long = await runCli(["send", "--to", "cid-ops", "--text", "x".repeat(4_001)], cliEnvFor());
    expect(long).toMatchObject({ code: 2, stderr: expect.stringContaining("at most 4000") });
    const missing = await runCli(["send", "--to", "cid-ops"], cliEnvFor());
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("--text");
    const noCreds = await runCli(
      ["send", "--to", "cid-ops", "--text", "hello"],
      cliEnv({ DATABASE_URL: h.testDb.url, DINGTALK_API_BASE: h.fake.url }),
    );
    expect(noCreds).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("DINGTALK_APP_KEY and DINGTALK_APP_SECRET are required"),
    });
    expect(h.fake.sent).toHaveLength(before.sent);
    expect(await sendAudits()).toHaveLength(before.audits);
    expect(await h.db.outboundMessage.count()).toBe(before.outbound);
  });

  it("reports DingTalk's refusal and keeps the attempt on record as FAILED", async () => {
    const audits = (await sendAudits()).length;
    const wrong = cliEnv({
      DATABASE_URL: h.testDb.url,
      DINGTALK_APP_KEY: APP_KEY,
      DINGTALK_APP_SECRET: "wrong-secret",
      DINGTALK_API_BASE: h.fake.url,
    });
    const run = await runCli(["send", "--to", "cid-ops", "--text", "hello"], wrong);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("not sent: DingTalk refused the send");
    const last = await h.db.outboundMessage.findFirstOrThrow({
      where: { conversationId: "cid-ops" },
      orderBy: { createdAt: "desc" },
    });
    expect(last).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(await sendAudits()).toHaveLength(audits + 1);
  });
});
