/** `clawgate doctor`: exit 0 when every check passes, 1 otherwise. */
import { formatResults, runDoctor } from "../doctor/doctor.ts";

export async function doctor(): Promise<number> {
  const results = await runDoctor();
  console.log(formatResults(results));
  return results.every((r) => r.ok) ? 0 : 1;
}
