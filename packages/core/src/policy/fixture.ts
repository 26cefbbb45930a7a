/**
 * Hand-built snapshots for tests and benchmarks: defaults describe a healthy install (one
 * ENABLED PROD conversation, tools on, safe mode off) so each case states only what it changes.
 */
import { buildPolicySnapshot, type PolicySnapshot, type PolicySource } from "./snapshot.ts";

type SkillRow = PolicySource["skills"][number];
type RuleRow = PolicySource["rules"][number];
type ConversationRow = PolicySource["conversations"][number];

export class PolicyFixture {
  private readonly source: {
    revision: number;
    loadedAt: Date;
    skills: SkillRow[];
    rules: RuleRow[];
    conversations: ConversationRow[];
    flags: Map<string, boolean>;
    safeMode: PolicySource["safeMode"];
  } = {
    revision: 1,
    loadedAt: new Date("2026-01-01T00:00:00Z"),
    skills: [],
    rules: [],
    conversations: [],
    flags: new Map([["agent.tools", true]]),
    safeMode: [],
  };

  revision(revision: number): this {
    this.source.revision = revision;
    return this;
  }

  skill(key: string, over: Partial<Omit<SkillRow, "key">> = {}): this {
    this.source.skills.push({
      key,
      riskClass: "READ",
      enabled: true,
      requiresApproval: false,
      environments: ["TEST", "PROD"],
      settings: {},
      ...over,
    });
    return this;
  }

  rule(skillKey: string, scope: RuleRow["scope"], subject: string, effect: RuleRow["effect"]): this {
    this.source.rules.push({ skillKey, scope, subject, effect });
    return this;
  }

  conversation(conversationId: string, over: Partial<Omit<ConversationRow, "conversationId">> = {}): this {
    this.source.conversations.push({ conversationId, status: "ENABLED", environment: "PROD", type: "GROUP", ...over });
    return this;
  }

  flag(key: string, enabled: boolean): this {
    this.source.flags.set(key, enabled);
    return this;
  }

  withoutFlag(key: string): this {
    this.source.flags.delete(key);
    return this;
  }

  /** An activation in force; `scopes` empty (the default): everything. */
  safeMode(
    level: "READ_ONLY" | "MAINTENANCE",
    opts: { message?: string; expiresAt?: Date; scopes?: string[] } = {},
  ): this {
    const list = (this.source.safeMode ??= []) as NonNullable<PolicySource["safeMode"]>[number][];
    list.push({
      id: `sm${list.length + 1}`,
      kind: "SAFE_MODE",
      level,
      scopes: opts.scopes ?? [],
      message: opts.message ?? null,
      expiresAt: opts.expiresAt ?? null,
    });
    return this;
  }

  killSwitch(): this {
    const list = (this.source.safeMode ??= []) as NonNullable<PolicySource["safeMode"]>[number][];
    list.push({ id: "kill", kind: "KILL_SWITCH", level: "READ_ONLY", scopes: [], message: null, expiresAt: null });
    return this;
  }

  build(): PolicySnapshot {
    const { flags, ...rest } = this.source;
    return buildPolicySnapshot({ ...rest, flags: [...flags].map(([key, enabled]) => ({ key, enabled })) });
  }
}

export const policyFixture = (): PolicyFixture => new PolicyFixture();
