/**
 * Field-level diff for audit entries. Secret fields are reported as changed without values.
 */
export type FieldDiff = Record<string, { from: unknown; to: unknown } | { changed: true }>;

export function diffFields<T extends Record<string, unknown>>(
  before: Partial<T> | null,
  after: Partial<T>,
  opts: { secret?: readonly string[] } = {},
): FieldDiff {
  const diff: FieldDiff = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  for (const key of keys) {
    const from = before?.[key];
    const to = after[key];
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    diff[key] = opts.secret?.includes(key) ? { changed: true } : { from: from ?? null, to: to ?? null };
  }
  return diff;
}
