/**
 * Runs once when the server starts (`next start`, `next dev`), before any request. Next.js only
 * logs an error thrown here and keeps serving, so a bad or missing variable exits the process:
 * the console refuses to start, naming each variable. `next build` skips this hook and env
 * validation (see env.ts), so a fresh clone builds with no env.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  try {
    await import("./env");
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
