/**
 * `clawgate user add --email E --role ADMIN|APPROVER|OPERATOR|VIEWER [--name N] [--update-role]`:
 * the first admin of a fresh install, and anyone who should sign in (SSO or DingTalk, matched by
 * email) or approve before ever signing in. Writes the user and its audit entry (the CLI actor)
 * in one transaction. An email that exists is refused; `--update-role` changes its role instead.
 */
import { appendAudit } from "@clawgate/core";
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";
import { cliActor } from "./safe-mode.ts";

export interface UserAddOptions {
  email?: string;
  role?: string;
  name?: string;
  updateRole?: boolean;
}

export async function userAdd(opts: UserAddOptions): Promise<number> {
  // Loaded on demand: the other commands do not pay for the domain package.
  const { addUser, addUserSchema } = await import("@clawgate/core/console/users.ts");
  const parsed = addUserSchema.safeParse({ email: opts.email, role: opts.role?.toUpperCase(), name: opts.name });
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      console.error(`clawgate user add: --${String(issue.path[0])}: ${issue.message}`);
    return 2;
  }
  const env = envOrExit(["DATABASE_URL"]);
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  const actor = cliActor("user add");
  try {
    const r = await db.$transaction(async (tx) => {
      const change = await addUser(tx, actor.id!, parsed.data, { updateRole: opts.updateRole ?? false });
      await appendAudit(tx, {
        actor,
        action: change.created ? "user.add" : "user.role",
        targetType: "user",
        targetId: change.userId,
        diff: { ...change.diff, ...(change.created ? {} : { sessionsRevoked: change.sessionsRevoked }) },
      });
      return change;
    });
    console.log(
      r.created
        ? `Added ${r.email} as ${parsed.data.role}: they can now sign in (SSO or DingTalk, by this email).`
        : `Updated ${r.summary}.`,
    );
    return 0;
  } catch (error) {
    return commandFailed("user add", error, (code) =>
      code === "CONFLICT" && !opts.updateRole ? "Add --update-role to give them this role instead." : undefined,
    );
  } finally {
    await db.$disconnect();
  }
}
