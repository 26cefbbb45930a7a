import { vitestPreset } from "./src/vitest-preset.js";

export default vitestPreset(import.meta.dirname);
