/**
 * A deterministic production-sized policy: 15 skills (READ/WRITE/DESTRUCTIVE, some TEST-only,
 * some disabled or behind a flag), 1,000 conversations (mostly enabled, a fifth in TEST) with
 * 20 users each, and 50 rules per conversation: 10 at CONVERSATION scope, 40 at USER scope.
 * Restricted skills (writes, destructive, http.fetch) are allowlisted per conversation and user;
 * open READ skills are only ever denied, the way admins use allowlists in practice.
 */
import type { PolicySource } from "../../packages/core/src/policy/snapshot.ts";

export const CONVERSATIONS = 1_000;
export const RULES_PER_CONVERSATION = 50;
const USERS_PER_CONVERSATION = 20;

const SKILLS: PolicySource["skills"] = [
  ["help", "READ"],
  ["status", "READ"],
  ["kb.search", "READ"],
  ["kb.article", "READ"],
  ["ticket.lookup", "READ"],
  ["http.fetch", "READ"],
  ["calendar.read", "READ"],
  ["wiki.read", "READ"],
  ["metrics.query", "READ"],
  ["ticket.create", "WRITE"],
  ["ticket.comment", "WRITE"],
  ["group.announce", "WRITE"],
  ["calendar.book", "WRITE"],
  ["deploy.rollback", "DESTRUCTIVE"],
  ["ticket.delete", "DESTRUCTIVE"],
].map(([key, riskClass], i) => ({
  key: key!,
  riskClass: riskClass as "READ" | "WRITE" | "DESTRUCTIVE",
  enabled: i % 7 !== 6,
  requiresApproval: riskClass !== "READ" && i % 2 === 1,
  environments: i % 5 === 4 ? ["TEST"] : ["TEST", "PROD"],
  settings: i % 6 === 3 ? { requiresFlag: i % 12 === 3 ? "beta.tools" : "kb.v2" } : {},
}));

const RESTRICTED = SKILLS.filter((s) => s.riskClass !== "READ" || s.key === "http.fetch").map((s) => s.key);
const OPEN = SKILLS.map((s) => s.key).filter((k) => !RESTRICTED.includes(k));

export function buildBenchSource(): PolicySource {
  let s = 7;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const conversations: PolicySource["conversations"][number][] = [];
  const rules: PolicySource["rules"][number][] = [
    { skillKey: "http.fetch", scope: "GLOBAL", subject: "", effect: "ALLOW" },
    { skillKey: "calendar.book", scope: "GLOBAL", subject: "", effect: "DENY" },
  ];
  for (let c = 0; c < CONVERSATIONS; c++) {
    const conversationId = `cid-${c}`;
    const r = rnd();
    conversations.push({
      conversationId,
      status: r < 0.9 ? "ENABLED" : r < 0.95 ? "PENDING" : "DISABLED",
      environment: rnd() < 0.2 ? "TEST" : "PROD",
      type: rnd() < 0.7 ? "GROUP" : "SINGLE",
    });
    // Restricted skills are allowlisted per conversation and per user; open skills only get DENYs.
    for (const skill of RESTRICTED) {
      rules.push({
        skillKey: skill,
        scope: "CONVERSATION",
        subject: conversationId,
        effect: rnd() < 0.6 ? "ALLOW" : "DENY",
      });
    }
    const denied = new Set<string>();
    while (denied.size < 10 - RESTRICTED.length) denied.add(pick(OPEN));
    for (const skill of denied)
      rules.push({ skillKey: skill, scope: "CONVERSATION", subject: conversationId, effect: "DENY" });
    const userRules = new Set<string>();
    while (userRules.size < RULES_PER_CONVERSATION - 10) {
      const restricted = rnd() < 0.75;
      const skill = pick(restricted ? RESTRICTED : OPEN);
      const user = `u-${c}-${Math.floor(rnd() * USERS_PER_CONVERSATION)}`;
      if (userRules.has(`${skill} ${user}`)) continue;
      userRules.add(`${skill} ${user}`);
      rules.push({
        skillKey: skill,
        scope: "USER",
        subject: user,
        effect: restricted && rnd() < 0.8 ? "ALLOW" : "DENY",
      });
    }
  }
  return {
    revision: 1,
    loadedAt: new Date("2026-06-01T00:00:00Z"),
    skills: SKILLS,
    rules,
    conversations,
    flags: [
      { key: "agent.tools", enabled: true },
      { key: "kb.v2", enabled: true },
      { key: "beta.tools", enabled: false },
    ],
    safeMode: null,
  };
}
