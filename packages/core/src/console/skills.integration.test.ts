import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { setSafeMode } from "../safe-mode.ts";
import { DEFAULT_SECRET_REF_POLICY } from "../secret-refs.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "../seed/demo.ts";
import {
  addSkillRule,
  explainSkillAccess,
  getSkill,
  removeSkillRule,
  updateSkill,
  updateSkillSettings,
} from "./skills.ts";
import { DomainError } from "../errors.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_skills" });
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
  await db.conversation.createMany({
    data: [
      { conversationId: "cid-prod", title: "Prod group", type: "GROUP", status: "ENABLED", environment: "PROD" },
      { conversationId: "cid-pending", type: "GROUP", status: "PENDING" },
    ],
  });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const tx = <T>(
  fn: Parameters<Db["$transaction"]>[0] extends (tx: infer X) => Promise<unknown> ? (tx: X) => Promise<T> : never,
) => db.$transaction(fn);
const refusal = async (p: Promise<unknown>) => {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
};
const check = (skillKey: string, conversationId = DEMO_CONVERSATION_ID, userId = "u-alice") =>
  explainSkillAccess(db, { skillKey, conversationId, userId });

describe("updateSkill", () => {
  it("toggles enabled with a field diff, and the next decision follows", async () => {
    expect((await check("kb.search")).outcome).toBe("allow");
    const change = await tx((t) => updateSkill(t, { key: "kb.search", enabled: false }));
    expect(change.diff).toEqual({ enabled: { from: true, to: false } });
    expect(change.summary).toBe('Skill "kb.search": enabled true -> false');
    const why = await check("kb.search");
    expect(why.outcome).toBe("deny");
    expect(why.reasons).toEqual([
      {
        code: "skill.disabled",
        explanation: 'The skill "kb.search" is disabled.',
        userSees: 'The skill "kb.search" is disabled.',
      },
    ]);
    expect(why.summary).toBe(`No: user u-alice cannot use "kb.search" in ${DEMO_CONVERSATION_ID}.`);
    await tx((t) => updateSkill(t, { key: "kb.search", enabled: true }));
  });

  it("sets environments in a stable order and explains an environment mismatch", async () => {
    const change = await tx((t) => updateSkill(t, { key: "kb.search", environments: ["PROD"] }));
    expect(change.environments).toEqual(["PROD"]);
    const why = await check("kb.search"); // the demo group is a TEST conversation
    expect(why.reasons.map((r) => r.code)).toEqual(["skill.environment"]);
    expect(why.reasons[0]!.explanation).toContain("not rolled out to TEST conversations");
    expect((await check("kb.search", "cid-prod")).outcome).toBe("allow");
    const back = await tx((t) => updateSkill(t, { key: "kb.search", environments: ["PROD", "TEST"] }));
    expect(back.environments).toEqual(["TEST", "PROD"]);
  });

  it("turns approval on and off for a WRITE skill; refuses it where decide would ignore it", async () => {
    // Writes ship enabled and wait for an approver.
    expect((await check("ticket.create")).outcome).toBe("needs_approval");
    await tx((t) => updateSkill(t, { key: "ticket.create", requiresApproval: false }));
    expect((await check("ticket.create")).outcome).toBe("allow");
    await tx((t) => updateSkill(t, { key: "ticket.create", requiresApproval: true }));

    expect((await refusal(tx((t) => updateSkill(t, { key: "kb.search", requiresApproval: true })))).message).toMatch(
      /READ skill/,
    );
  });

  it("refuses unknown skills, no-ops, empty changes and bad environments, writing nothing", async () => {
    const before = await db.skill.findMany({ orderBy: { key: "asc" } });
    expect((await refusal(tx((t) => updateSkill(t, { key: "nope", enabled: true })))).code).toBe("NOT_FOUND");
    // A save that changes nothing is not refused: an empty diff, nothing written.
    expect(await tx((t) => updateSkill(t, { key: "kb.search", enabled: true }))).toMatchObject({ diff: {} });
    expect((await refusal(tx((t) => updateSkill(t, { key: "kb.search" })))).message).toMatch(/nothing to change/);
    expect((await refusal(tx((t) => updateSkill(t, { key: "kb.search", environments: [] })))).message).toMatch(
      /at least one environment/,
    );
    expect(
      (await refusal(tx((t) => updateSkill(t, { key: "kb.search", environments: ["DEV" as "TEST"] })))).message,
    ).toMatch(/TEST and\/or PROD/);
    expect(await db.skill.findMany({ orderBy: { key: "asc" } })).toEqual(before);
  });
});

describe("updateSkillSettings", () => {
  it("stores settings the manifest accepts, defaults filled in, and getSkill shows them with their fields", async () => {
    const change = await tx((t) =>
      updateSkillSettings(
        t,
        {
          key: "http.fetch",
          settings: { allowedHosts: ["wiki.corp.example:8443"], allowPrivateNetworks: true },
        },
        DEFAULT_SECRET_REF_POLICY,
      ),
    );
    expect(change.settings).toEqual({
      allowedHosts: ["wiki.corp.example:8443"],
      allowPrivateNetworks: true,
      maxBytes: 262144,
    });
    expect(change.diff).toEqual({
      allowedHosts: { from: null, to: ["wiki.corp.example:8443"] },
      allowPrivateNetworks: { from: null, to: true },
      maxBytes: { from: null, to: 262144 },
    });
    expect(change.summary).toMatch(
      /^Skill "http\.fetch" settings: allowedHosts null -> \["wiki\.corp\.example:8443"\]/,
    );
    const skill = await getSkill(db, "http.fetch");
    expect(skill.settings).toEqual(change.settings);
    expect(skill.settingsFields.map((f) => f.name)).toEqual([
      "allowedHosts",
      "allowPrivateNetworks",
      "maxBytes",
      "requiresFlag",
    ]);

    const flagged = await tx((t) =>
      updateSkillSettings(
        t,
        { key: "http.fetch", settings: { ...change.settings, requiresFlag: "web" } },
        DEFAULT_SECRET_REF_POLICY,
      ),
    );
    expect(flagged.diff).toEqual({ requiresFlag: { from: null, to: "web" } });
    expect((await getSkill(db, "http.fetch")).requiresFlag).toBe("web");
    await tx((t) => updateSkillSettings(t, { key: "http.fetch", settings: {} }, DEFAULT_SECRET_REF_POLICY));
  });

  it("refuses what the manifest refuses, unknown skills and no-ops, writing nothing", async () => {
    const before = await db.skill.findMany({ orderBy: { key: "asc" } });
    const bad = await refusal(
      tx((t) =>
        updateSkillSettings(
          t,
          {
            key: "http.fetch",
            settings: { allowedHosts: ["wiki.corp.example:99999"], allowPrivate: true, maxBytes: -1 },
          },
          DEFAULT_SECRET_REF_POLICY,
        ),
      ),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.message.split("\n")).toEqual([
      expect.stringMatching(/^http\.fetch settings\.allowedHosts\.0: must be a host name/),
      expect.stringMatching(/^http\.fetch settings\.maxBytes: /),
      'http.fetch settings: Unrecognized key: "allowPrivate"',
    ]);
    expect(
      (await refusal(tx((t) => updateSkillSettings(t, { key: "kb.search", settings: {} }, DEFAULT_SECRET_REF_POLICY))))
        .message,
    ).toMatch(/kb\.search settings\.baseUrl/);
    expect(
      (await refusal(tx((t) => updateSkillSettings(t, { key: "help", settings: { x: 1 } }, DEFAULT_SECRET_REF_POLICY))))
        .message,
    ).toBe('help settings: Unrecognized key: "x"');
    expect(
      (
        await refusal(
          tx((t) =>
            updateSkillSettings(
              t,
              { key: "kb.search", settings: { baseUrl: "http://kb.corp.example", tokenEnv: "DATABASE_URL" } },
              DEFAULT_SECRET_REF_POLICY,
            ),
          ),
        )
      ).message,
    ).toMatch(/DATABASE_URL/);
    expect(
      (await refusal(tx((t) => updateSkillSettings(t, { key: "nope", settings: {} }, DEFAULT_SECRET_REF_POLICY)))).code,
    ).toBe("NOT_FOUND");
    expect(
      (
        await refusal(
          tx((t) =>
            updateSkillSettings(
              t,
              { key: "http.fetch", settings: [] as unknown as Record<string, unknown> },
              DEFAULT_SECRET_REF_POLICY,
            ),
          ),
        )
      ).message,
    ).toMatch(/settings must be a JSON object/);
    const current = (await getSkill(db, "http.fetch")).settings;
    expect(
      await tx((t) => updateSkillSettings(t, { key: "http.fetch", settings: current }, DEFAULT_SECRET_REF_POLICY)),
    ).toMatchObject({ diff: {} });
    expect(await db.skill.findMany({ orderBy: { key: "asc" } })).toEqual(before);
  });
});

describe("skill rules", () => {
  it("a conversation ALLOW makes an allowlist; a user DENY wins; removing restores", async () => {
    const allow = await tx((t) =>
      addSkillRule(t, {
        skillKey: "kb.search",
        scope: "CONVERSATION",
        subject: "cid-prod",
        effect: "ALLOW",
        note: "prod only",
      }),
    );
    expect(allow.summary).toBe('Skill "kb.search": rule added (ALLOW conversation cid-prod)');
    const notListed = await check("kb.search");
    expect(notListed.reasons.map((r) => r.code)).toEqual(["rule.not_allowlisted.conversation"]);
    expect(notListed.reasons[0]!.explanation).toBe(
      `"kb.search" has ALLOW rules for some conversations (an allowlist), and ${DEMO_CONVERSATION_ID} is not on it.`,
    );
    expect((await check("kb.search", "cid-prod")).outcome).toBe("allow");

    const deny = await tx((t) =>
      addSkillRule(t, { skillKey: "kb.search", scope: "USER", subject: "u-mallory", effect: "DENY" }),
    );
    const denied = await check("kb.search", "cid-prod", "u-mallory");
    expect(denied.reasons.map((r) => r.code)).toEqual(["rule.deny.user"]);
    expect(denied.reasons[0]!.userSees).toBe('The skill "kb.search" is denied for you by a rule.');
    // What the chat does agrees: the runtime does not offer the skill to this user's turns.
    expect(denied.offered).toBe(false);
    expect(denied.inChat).toBe(
      'The model is not offered "kb.search" in this user\'s turns here: the robot answers without it.',
    );

    const skill = await getSkill(db, "kb.search");
    expect(skill.rules.map((r) => [r.scope, r.subject, r.effect, r.note])).toEqual([
      ["CONVERSATION", "cid-prod", "ALLOW", "prod only"],
      ["USER", "u-mallory", "DENY", null],
    ]);

    await tx((t) => removeSkillRule(t, { id: allow.id }));
    const removed = await tx((t) => removeSkillRule(t, { id: deny.id }));
    expect(removed.summary).toBe('Skill "kb.search": rule removed (DENY user u-mallory)');
    expect((await check("kb.search", "cid-prod", "u-mallory")).outcome).toBe("allow");
    expect(await db.skillRule.count()).toBe(0);
  });

  it("a GLOBAL DENY blocks everywhere", async () => {
    const rule = await tx((t) => addSkillRule(t, { skillKey: "help", scope: "GLOBAL", effect: "DENY" }));
    expect((await check("help")).reasons.map((r) => r.code)).toEqual(["rule.deny.global"]);
    await tx((t) => removeSkillRule(t, { id: rule.id }));
  });

  it("validates scope/subject, refuses duplicates and contradictions, unknown skills and rules", async () => {
    const bad = async (input: Parameters<typeof addSkillRule>[1]) =>
      (await refusal(tx((t) => addSkillRule(t, input)))).message;
    expect(await bad({ skillKey: "help", scope: "GLOBAL", subject: "x", effect: "DENY" })).toMatch(
      /GLOBAL rule has no subject/,
    );
    expect(await bad({ skillKey: "help", scope: "CONVERSATION", subject: " ", effect: "DENY" })).toMatch(
      /conversation's id/,
    );
    expect(await bad({ skillKey: "help", scope: "USER", effect: "ALLOW" })).toMatch(/user's DingTalk id/);
    expect(await bad({ skillKey: "help", scope: "USER", subject: "two words", effect: "ALLOW" })).toMatch(/no spaces/);
    expect(await bad({ skillKey: "help", scope: "ROOM" as "USER", subject: "x", effect: "ALLOW" })).toMatch(
      /scope must be/,
    );
    expect(await bad({ skillKey: "help", scope: "USER", subject: "x", effect: "MAYBE" as "ALLOW" })).toMatch(
      /effect must be/,
    );
    expect(
      (await refusal(tx((t) => addSkillRule(t, { skillKey: "nope", scope: "USER", subject: "x", effect: "ALLOW" }))))
        .code,
    ).toBe("NOT_FOUND");

    const rule = await tx((t) => addSkillRule(t, { skillKey: "help", scope: "USER", subject: "u1", effect: "ALLOW" }));
    expect(await bad({ skillKey: "help", scope: "USER", subject: "u1", effect: "ALLOW" })).toMatch(/exists already/);
    expect(await bad({ skillKey: "help", scope: "USER", subject: "u1", effect: "DENY" })).toMatch(
      /ALLOW rule for this subject exists; remove it first/,
    );
    await tx((t) => removeSkillRule(t, { id: rule.id }));
    expect((await refusal(tx((t) => removeSkillRule(t, { id: rule.id })))).code).toBe("NOT_FOUND");
    expect(await db.skillRule.count()).toBe(0);
  });
});

describe("explainSkillAccess", () => {
  it("explains unknown and pending conversations, unknown skills and safe mode, at the current revision", async () => {
    const unknown = await check("kb.search", "cid-never-seen");
    expect(unknown.outcome).toBe("deny");
    expect(unknown.reasons.map((r) => r.code)).toEqual(["conversation.unknown"]);
    expect(unknown.facts.conversation).toEqual({ known: false, status: null, environment: null });
    expect(unknown.offered).toBe(false);
    expect(unknown.inChat).toMatch(
      /^The robot does not run a turn for this user here: every message is answered with "This conversation is not known/,
    );
    expect((await check("kb.search", "cid-pending")).reasons.map((r) => r.code)).toEqual(["conversation.pending"]);
    expect((await check("no.such")).reasons.map((r) => r.code)).toEqual(["skill.unknown"]);

    const on = await setSafeMode(
      db,
      { type: "CLI", name: "test" },
      { active: true, level: "READ_ONLY", reason: "test" },
    );
    const write = await check("ticket.create");
    expect(write.revision).toBe(on.revision); // updateSkill alone bumps nothing: the console wraps it in configMutation
    expect(write.facts.safeMode).toBe("READ_ONLY");
    expect(write.reasons.map((r) => r.code)).toEqual(["safe_mode.read_only"]);
    expect(write.offered).toBe(true);
    expect(write.inChat).toMatch(
      /^The model is still offered "ticket.create", so the user hears why a call is refused/,
    );
    const read = await check("kb.search");
    expect(read.outcome).toBe("allow");
    expect(read.offered).toBe(true);
    await setSafeMode(db, { type: "CLI", name: "test" }, { active: false, reason: "done" });
  });

  it("refuses empty inputs", async () => {
    expect(
      (await refusal(explainSkillAccess(db, { skillKey: "kb.search", conversationId: " ", userId: "u" }))).message,
    ).toMatch(/conversation id/);
    expect(
      (await refusal(explainSkillAccess(db, { skillKey: "kb.search", conversationId: "c", userId: "" }))).message,
    ).toMatch(/user's DingTalk id/);
  });
});
