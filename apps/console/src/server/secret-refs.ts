/** The console's secret-reference policy, from its env (see @clawgate/core secret-refs.ts). */
import { secretRefPolicy } from "@clawgate/core/secret-refs.ts";
import { env } from "~/env.ts";

export const consoleSecretRefs = secretRefPolicy(env);
