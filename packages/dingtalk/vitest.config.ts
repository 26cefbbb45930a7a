// Relative import: a package dependency on devstack would make a cycle (devstack uses core and db).
import { vitestPreset } from "../devstack/src/vitest-preset.ts";

export default vitestPreset(import.meta.dirname);
