import { fileURLToPath } from "node:url";
import { vitestPreset } from "@clawgate/devstack/vitest-preset";

const config = vitestPreset(import.meta.dirname);
export default { ...config, resolve: { alias: { "~": fileURLToPath(new URL("./src", import.meta.url)) } } };
