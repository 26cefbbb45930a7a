import { vitestPreset } from "@clawgate/devstack/vitest-preset";

export default vitestPreset(import.meta.dirname);
