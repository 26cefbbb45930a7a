/**
 * The demo data set on top of bootstrap (which creates the built-in skills, default flags and
 * safe-mode row, as on any install): a demo conversation, the local demo model endpoint and its
 * default route and budgets, the internal API base URL of the kb.* / ticket.* skills, and a
 * console user per role. Idempotent: a second run changes nothing that exists (admins' edits
 * survive restarts) and records a config revision only when it created something.
 */
import type { Db, Prisma, Tx } from "@clawgate/db";
import { SYSTEM_SEED_ACTOR } from "../actor.ts";
import { bootstrapCatalogTx, type BootstrapChange } from "../bootstrap.ts";
import { recordConfigChange } from "../revision.ts";
import { DEMO_USERS } from "./demo-users.ts";

export const DEMO_CONVERSATION_ID = "cid-demo-group";
export const DEMO_MODEL_NAME = "local_chat";
export const DEFAULT_DEMO_MODEL_BASE_URL = "http://127.0.0.1:3300/v1";

export interface SeedOptions {
  /** Base URL of the OpenAI-compatible demo model (…/v1). */
  modelBaseUrl?: string;
  /** Base URL of the internal KB/ticket API the kb.* and ticket.* skills call. */
  internalApiBaseUrl?: string;
}

const INTERNAL_API_SKILLS = new Set(["kb.search", "ticket.lookup", "ticket.create"]);
const CREATED: Record<BootstrapChange["target"], string> = {
  skill: "skills",
  feature_flag: "featureFlags",
  safe_mode: "safeMode",
};

export interface SeedResult {
  created: Record<string, number>;
  configRevision: number | null;
}

export async function seedDemo(db: Db, opts: SeedOptions = {}): Promise<SeedResult> {
  return db.$transaction(async (tx) => {
    const created: Record<string, number> = {};
    const count = (what: string, n: number) => {
      if (n > 0) created[what] = (created[what] ?? 0) + n;
    };

    // The catalog every install has; its changes go into this revision's audit entry.
    const bootstrap = await bootstrapCatalogTx(tx);
    for (const c of bootstrap) count(c.action === "create" ? CREATED[c.target] : `${c.target}.${c.action}`, 1);
    if (opts.internalApiBaseUrl) count("skillSettings", await setInternalApiBaseUrl(tx, opts.internalApiBaseUrl));

    count(
      "conversations",
      (
        await tx.conversation.createMany({
          data: [
            {
              conversationId: DEMO_CONVERSATION_ID,
              title: "Clawgate demo group",
              type: "GROUP",
              environment: "TEST",
              status: "ENABLED",
            },
          ],
          skipDuplicates: true,
        })
      ).count,
    );

    count("models", await ensureModelRoute(tx, opts.modelBaseUrl ?? DEFAULT_DEMO_MODEL_BASE_URL));
    count(
      "users",
      (
        await tx.user.createMany({
          data: DEMO_USERS.map((u) => ({ email: u.email, name: u.name, role: u.role, emailVerified: new Date() })),
          skipDuplicates: true,
        })
      ).count,
    );

    let configRevision: number | null = null;
    if (Object.keys(created).length > 0) {
      configRevision = await recordConfigChange(tx, {
        actor: SYSTEM_SEED_ACTOR,
        action: "seed.demo",
        targetType: "system",
        diff: { created, ...(bootstrap.length > 0 && { bootstrap }) },
        summary: "Demo data seeded",
      });
    }
    return { created, configRevision };
  });
}

/** The local model endpoint, the default budgets and the default route to them. */
async function ensureModelRoute(tx: Tx, baseUrl: string): Promise<number> {
  if (await tx.route.findFirst({ where: { isDefault: true }, select: { id: true } })) return 0;
  const endpoint = await tx.modelEndpoint.upsert({
    where: { name: DEMO_MODEL_NAME },
    update: {},
    create: {
      name: DEMO_MODEL_NAME,
      baseUrl,
      model: "clawgate-demo",
      apiKeyEnv: "LOCAL_MODEL_API_KEY",
      timeoutMs: 30_000,
      maxConcurrency: 8,
    },
  });
  const budget = await tx.tokenBudget.upsert({
    where: { scope_subject: { scope: "DEFAULT", subject: "" } },
    update: {},
    create: {
      scope: "DEFAULT",
      maxContextTokens: 8_000,
      dailyTokens: 200_000,
      monthlyTokens: 4_000_000,
      requestsPerMinute: 20,
    },
  });
  await tx.tokenBudget.upsert({
    where: { scope_subject: { scope: "GLOBAL", subject: "" } },
    update: {},
    create: { scope: "GLOBAL", dailyTokens: 2_000_000, monthlyTokens: 40_000_000 },
  });
  await tx.route.create({ data: { isDefault: true, modelEndpointId: endpoint.id, budgetId: budget.id } });
  return 1;
}

/** Points the kb.* / ticket.* skills at the internal API, where no base URL is set yet. */
async function setInternalApiBaseUrl(tx: Tx, baseUrl: string): Promise<number> {
  let n = 0;
  for (const s of await tx.skill.findMany({ where: { key: { in: [...INTERNAL_API_SKILLS] } } })) {
    const settings = (s.settings ?? {}) as Prisma.JsonObject;
    if (settings.baseUrl !== undefined) continue;
    await tx.skill.update({ where: { key: s.key }, data: { settings: { ...settings, baseUrl } } });
    n += 1;
  }
  return n;
}
