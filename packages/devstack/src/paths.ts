import path from "node:path";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../../..");
/** Local state of `npm start` and `npm test` (git-ignored). */
export const DATA_DIR = path.join(REPO_ROOT, ".data");
