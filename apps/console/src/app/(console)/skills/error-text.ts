/**
 * A tRPC error as one readable line: zod's field messages when the input was refused by the
 * schema (the raw message is then a JSON dump), else the server's message.
 */
interface ErrorLike {
  message?: string;
  data?: { zodError?: { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> } | null } | null;
}

export function errorText(error: unknown): string {
  const e = error as ErrorLike | null;
  const z = e?.data?.zodError;
  if (z) {
    const messages = [...z.formErrors, ...Object.values(z.fieldErrors).flatMap((v) => v ?? [])];
    if (messages.length > 0) return messages.join("; ");
  }
  return e?.message ?? String(error);
}
