/**
 * `CLAWGATE_DATA_KEYS` in an env schema (the runtime's and the console's): the data key ring
 * parsed, or the variable's problem named without its prefix. Imports only zod and the crypto
 * module, so env schemas stay light.
 */
import { DataKeyError, parseKeyRing } from "@clawgate/db/crypto";
import { z } from "zod";

export const dataKeysEnvSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    try {
      return parseKeyRing(v);
    } catch (error) {
      if (!(error instanceof DataKeyError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message.replace(/^CLAWGATE_DATA_KEYS: /, "") });
      return z.NEVER;
    }
  });
