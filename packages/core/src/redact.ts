/** Redaction of what is shown to people (an approval's input): values under credential-like keys are hidden. */

// The input is what the approver judges, so it is shown; but a credential the model put in it is not.
const SECRET_KEY = /token|secret|password|passwd|authori[sz]ation|api[-_]?key|cookie|credential/i;

export function redactInput(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactInput);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? "[redacted]" : redactInput(v)]),
    );
  }
  return value;
}
