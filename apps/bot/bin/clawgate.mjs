#!/usr/bin/env node
// The workspace runs TypeScript source: register tsx, then load the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
