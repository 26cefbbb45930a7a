import { fileURLToPath } from "node:url";
// Relative import, as in the other workspaces: the console does not depend on devstack.
import { vitestPreset } from "../../packages/devstack/src/vitest-preset.ts";

const config = vitestPreset(import.meta.dirname);
export default { ...config, resolve: { alias: { "~": fileURLToPath(new URL("./src", import.meta.url)) } } };
