/**
 * `clawgate export --config FILE.yaml`: the live configuration in the onboarding file's format,
 * so that onboarding the export plans no change. Model keys stay env var references
 * (`${NAME}`); nothing secret is in the database to export.
 *
 * Not exported (the file has no place for them): the budget a route names, rule notes, and
 * conversations still PENDING (the robot found them; nobody configured them), and safe-mode
 * activations (incident state, not configuration: a re-apply would reopen an expired one). Users are exported by email, role and DingTalk identity; users without an email are left out.
 */
import type { Db } from "@clawgate/db";
import { BUILTIN_SKILLS } from "@clawgate/skills";
import { stringify } from "yaml";
import { RESERVED_SECTIONS } from "./schema.ts";

const lower = <T extends string>(v: T) => v.toLowerCase() as Lowercase<T>;

type Limits = {
  maxContextTokens: number | null;
  dailyTokens: number | null;
  monthlyTokens: number | null;
  requestsPerMinute: number | null;
};

/** Only the limits that are set: one left out is unlimited. */
const limitsYaml = (b: Limits) => ({
  ...(b.maxContextTokens !== null && { max_context_tokens: b.maxContextTokens }),
  ...(b.dailyTokens !== null && { daily_tokens: b.dailyTokens }),
  ...(b.monthlyTokens !== null && { monthly_tokens: b.monthlyTokens }),
  ...(b.requestsPerMinute !== null && { requests_per_minute: b.requestsPerMinute }),
});

const KNOWN = new Set<string>(BUILTIN_SKILLS.map((s) => s.key));

/** The live configuration as the object `parseOnboardConfig` reads. */
export async function exportConfig(db: Db): Promise<Record<string, unknown>> {
  const [endpoints, routes, conversations, skills, flags, budgets, users, sections, servers] = await Promise.all([
    db.modelEndpoint.findMany({ orderBy: { name: "asc" } }),
    db.route.findMany({
      select: {
        isDefault: true,
        maxToolRounds: true,
        conversation: { select: { conversationId: true } },
        modelEndpoint: { select: { name: true } },
      },
    }),
    db.conversation.findMany({ where: { status: { not: "PENDING" } }, orderBy: { conversationId: "asc" } }),
    db.skill.findMany({
      orderBy: { key: "asc" },
      include: { rules: { orderBy: [{ scope: "asc" }, { subject: "asc" }] } },
    }),
    db.featureFlag.findMany({ orderBy: { key: "asc" } }),
    db.tokenBudget.findMany({ orderBy: [{ scope: "asc" }, { subject: "asc" }] }),
    db.user.findMany({
      where: { email: { not: null } },
      orderBy: { email: "asc" },
      select: { email: true, role: true, dingtalkUserId: true, dingtalkUnionId: true },
    }),
    db.configSection.findMany({ where: { key: { in: [...RESERVED_SECTIONS] } } }),
    db.mcpServer.findMany({ orderBy: { name: "asc" } }),
  ]);
  const refs = (headers: unknown) =>
    Object.fromEntries(
      Object.entries(headers && typeof headers === "object" ? headers : {}).map(([h, env]) => [
        h,
        `\${${String(env)}}`,
      ]),
    );
  const httpTools = skills.filter((s) => s.source === "HTTP");
  const defaultRoute = routes.find((r) => r.isDefault && !r.conversation);
  const ownRoutes = routes
    .filter((r) => r.conversation)
    .sort((a, b) => a.conversation!.conversationId.localeCompare(b.conversation!.conversationId));
  const routeYaml = (r: (typeof routes)[number]) => ({ model: r.modelEndpoint.name, max_tool_rounds: r.maxToolRounds });
  const budgetsOf = (scope: string) =>
    Object.fromEntries(budgets.filter((b) => b.scope === scope).map((b) => [b.subject, limitsYaml(b)]));
  const global = budgets.find((b) => b.scope === "GLOBAL");
  const fallback = budgets.find((b) => b.scope === "DEFAULT");
  const perConversation = budgetsOf("CONVERSATION");
  const perUser = budgetsOf("USER");
  return {
    version: 1,
    models: Object.fromEntries(
      endpoints.map((e) => [
        e.name,
        {
          kind: "openai_compatible",
          base_url: e.baseUrl,
          ...(e.apiKeyEnv && { api_key: `\${${e.apiKeyEnv}}` }),
          model: e.model,
          timeout_ms: e.timeoutMs,
          enabled: e.enabled,
        },
      ]),
    ),
    ...((defaultRoute || ownRoutes.length > 0) && {
      routing: {
        ...(defaultRoute && { defaults: routeYaml(defaultRoute) }),
        ...(ownRoutes.length > 0 && {
          conversations: Object.fromEntries(ownRoutes.map((r) => [r.conversation!.conversationId, routeYaml(r)])),
        }),
      },
    }),
    ...(endpoints.length > 0 && {
      limits: { max_concurrency_per_model: Object.fromEntries(endpoints.map((e) => [e.name, e.maxConcurrency])) },
    }),
    conversations: conversations.map((c) => ({
      id: c.conversationId,
      ...(c.title !== null && { title: c.title }),
      environment: lower(c.environment),
      enabled: c.status === "ENABLED",
      type: lower(c.type),
    })),
    skills: skills
      .filter((s) => KNOWN.has(s.key))
      .map((s) => {
        const settings = s.settings && typeof s.settings === "object" && !Array.isArray(s.settings) ? s.settings : {};
        return {
          key: s.key,
          enabled: s.enabled,
          requires_approval: s.requiresApproval,
          environments: s.environments.map(lower),
          ...(Object.keys(settings).length > 0 && { settings }),
          rules: s.rules.map((r) => ({
            scope: lower(r.scope),
            ...(r.scope !== "GLOBAL" && { subject: r.subject }),
            effect: lower(r.effect),
          })),
        };
      }),
    flags: Object.fromEntries(
      flags.map((f) => [f.key, { enabled: f.enabled, ...(f.description && { description: f.description }) }]),
    ),
    budgets: {
      ...(global && { global: limitsYaml(global) }),
      ...(fallback && { default: limitsYaml(fallback) }),
      ...(Object.keys(perConversation).length > 0 && { conversations: perConversation }),
      ...(Object.keys(perUser).length > 0 && { users: perUser }),
    },
    users: users.map((u) => ({
      email: u.email,
      role: lower(u.role),
      ...((u.dingtalkUserId || u.dingtalkUnionId) && {
        dingtalk: {
          ...(u.dingtalkUserId && { user_id: u.dingtalkUserId }),
          ...(u.dingtalkUnionId && { union_id: u.dingtalkUnionId }),
        },
      }),
    })),
    ...Object.fromEntries(sections.map((s) => [s.key, s.value])),
    ...(servers.length > 0 && {
      mcp_servers: Object.fromEntries(
        servers.map((m) => [
          m.name,
          {
            url: m.url,
            headers: refs(m.headers),
            timeout_ms: m.timeoutMs,
            max_concurrency: m.maxConcurrency,
            enabled: m.enabled,
          },
        ]),
      ),
    }),
    ...(httpTools.length > 0 && {
      http_tools: Object.fromEntries(
        httpTools.map((s) => {
          const def = (s.definition ?? {}) as {
            inputSchema?: unknown;
            request?: { method?: string; url?: string; headers?: unknown; maxBytes?: number; jsonPath?: string };
          };
          return [
            s.key,
            {
              description: s.description,
              method: def.request?.method,
              url: def.request?.url,
              headers: refs(def.request?.headers),
              input_schema: def.inputSchema,
              risk_class: lower(s.riskClass),
              max_bytes: def.request?.maxBytes,
              ...(def.request?.jsonPath !== undefined && { json_path: def.request.jsonPath }),
              timeout_ms: s.timeoutMs,
              enabled: s.enabled,
              requires_approval: s.requiresApproval,
              untrusted_output: s.untrustedOutput,
            },
          ];
        }),
      ),
    }),
  };
}

const HEADER = `# Written by \`clawgate export\`: the live configuration. Apply it with
#   clawgate onboard --channel dingtalk --config FILE.yaml [--dry-run]
# api_key values are env var NAMES; the keys themselves are never in the database or here.
`;

/** The export as the YAML text `clawgate onboard` reads. */
export async function exportConfigYaml(db: Db): Promise<string> {
  return HEADER + stringify(await exportConfig(db), { lineWidth: 0 });
}
