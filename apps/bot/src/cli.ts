/**
 * The `clawgate` CLI. Each command validates only the env it needs; one-shot commands exit
 * with their own code (open pools would otherwise keep the process alive).
 */
import { Command } from "commander";
import { auditVerify } from "./commands/audit.ts";
import { deadLetters, type DeadLettersOptions } from "./commands/dead-letters.ts";
import { doctor } from "./commands/doctor.ts";
import { exportConfig } from "./commands/export.ts";
import { keys, type KeysOptions } from "./commands/keys.ts";
import { breakGlass, type BreakGlassOptions } from "./commands/break-glass.ts";
import { incident, type IncidentOptions } from "./commands/incident.ts";
import { migrate } from "./commands/migrate.ts";
import { onboard } from "./commands/onboard.ts";
import { retentionRun } from "./commands/retention.ts";
import { killSwitch, safeMode, type SafeModeOptions } from "./commands/safe-mode.ts";
import { click, say } from "./commands/say.ts";
import { seed } from "./commands/seed.ts";
import { send } from "./commands/send.ts";
import { userAdd, type UserAddOptions } from "./commands/user.ts";
import { serve } from "./commands/serve.ts";
import { VERSION } from "./version.ts";

const exitWith = (run: () => Promise<number>) => async () => process.exit(await run());

const program = new Command("clawgate")
  .description("Clawgate DingTalk robot runtime")
  .version(VERSION)
  .showHelpAfterError();

program
  .command("serve")
  .description("run the runtime HTTP server (healthz, ready, metrics, DingTalk ingress)")
  .action(serve);

program.command("migrate").description("apply the committed database migrations").action(exitWith(migrate));

program
  .command("seed")
  .description("load data into the database")
  .option("--demo", "the demo data set (skills, users, a model endpoint)")
  .action((opts: { demo?: boolean }) => exitWith(() => seed(opts))());

program
  .command("onboard")
  .description(
    "apply a YAML config (models, routing, limits, conversations, skills, flags, budgets, users) in one audited revision",
  )
  .requiredOption("--channel <channel>", "the chat channel: dingtalk")
  .requiredOption("--config <file>", "the YAML file (see apps/bot/examples/clawgate.yaml)")
  .option("--dry-run", "print the plan without writing")
  .action((opts: { channel: string; config: string; dryRun?: boolean }) => exitWith(() => onboard(opts))());

program
  .command("export")
  .description("write the live configuration as an onboarding YAML file (onboard --dry-run of it plans no change)")
  .requiredOption("--config <file>", "the YAML file to write, or - for stdout")
  .action((opts: { config: string }) => exitWith(() => exportConfig(opts))());

program
  .command("doctor")
  .description("check env, database, migrations, DingTalk credentials and the model endpoint")
  .action(exitWith(doctor));

program
  .command("say")
  .description("send a message to the robot through the fake DingTalk (npm start) and print the replies")
  .requiredOption("--conversation <id>", 'conversation id, or "demo" for cid-demo-group')
  .option("--via <mode>", "delivery: http or stream (default: whatever the runtime is connected with)")
  .option("--timeout <ms>", "how long to wait for replies", "30000")
  .option("--as <userId>", "the DingTalk user who says it (default demo-user)")
  .argument("<text>", "the message text")
  .action((text: string, opts: { conversation: string; via?: string; timeout?: string; as?: string }) =>
    exitWith(() => say(text, opts))(),
  );

program
  .command("click")
  .description("click Approve or Reject on an approval card in the fake DingTalk (npm start), as a DingTalk user")
  .argument("<request-id>", "the approval request (the card's outTrackId; `say` prints it)")
  .argument("<action>", "approve or reject")
  .requiredOption("--as <userId>", "the clicking DingTalk userId (an approver's, as declared under users[].dingtalk)")
  .option("--timeout <ms>", "how long to wait for the card to show the outcome", "30000")
  .action((requestId: string, action: string, opts: { as: string; timeout?: string }) =>
    exitWith(() => click(requestId, action, opts))(),
  );

program
  .command("safe-mode")
  .description("switch safe mode on or off (works with the console down: writes the database, audited as the CLI)")
  .argument("<state>", "on, off or status")
  .argument("[id]", "off: the activation to end (see `status`)")
  .option("--reason <text>", "why (required for on and off)")
  .option(
    "--scope <scope>",
    "on: conversation:ID, skill:KEY or risk:READ|WRITE|DESTRUCTIVE (repeatable; none: everything)",
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option("--ttl <duration>", "on: switch off by itself after e.g. 30m, 2h, 1d")
  .option("--level <level>", "on: read-only (only READ skills run; default) or maintenance (no model call)")
  .option("--message <text>", "on: what the robot tells users")
  .option("--id <id>", "on: update this activation instead of the one with the same scope")
  .option("--all", "off: end every activation in force")
  .action((state: string, id: string | undefined, opts: SafeModeOptions) =>
    exitWith(() => safeMode(state, opts, id))(),
  );

program
  .command("kill-switch")
  .description("withdraw every WRITE and DESTRUCTIVE skill at once (on), or put them back as they were (off)")
  .argument("<state>", "on or off")
  .option("--reason <text>", "why (required)")
  .action((state: string, opts: { reason?: string }) => exitWith(() => killSwitch(state, opts))());

program
  .command("send")
  .description("send a text message from the robot into a known conversation (DingTalk OpenAPI robot send; audited)")
  .requiredOption("--to <conversation>", 'DingTalk conversation id, or "demo" for cid-demo-group')
  .requiredOption("--text <text>", "the message text")
  .action((opts: { to: string; text: string }) => exitWith(() => send(opts))());

program
  .command("user")
  .description("console users")
  .command("add")
  .description("add a console user by email with a role (audited as the CLI); the first admin of a fresh install")
  .option("--email <email>", "their email: SSO and DingTalk sign-in match on it (required)")
  .option("--role <role>", "ADMIN, APPROVER, OPERATOR or VIEWER (required)")
  .option("--name <name>", "the name the console shows")
  .option("--update-role", "when the email exists, give it this role instead of refusing")
  .action((opts: UserAddOptions) => exitWith(() => userAdd(opts))());

program
  .command("dead-letters")
  .description("list the messages and jobs the runtime gave up on, or put one back on the queue (audited)")
  .argument("<action>", "list or retry")
  .argument("[id]", "retry: the dead letter's id")
  .option("--all", "list: retried ones too")
  .option("--limit <n>", "list: how many, newest first (default 50)")
  .action((action: string, id: string | undefined, opts: DeadLettersOptions) =>
    exitWith(() => deadLetters(action, id, opts))(),
  );

program
  .command("audit")
  .description("the audit log")
  .command("verify")
  .description(
    "recompute the audit chain from the newest signed checkpoint; prints OK or the first broken link (exit 1)",
  )
  .action(exitWith(auditVerify));

program
  .command("retention")
  .description("the retention purge")
  .command("run")
  .description("delete what is older than the retention periods now (kept: unreviewed incidents' windows; audited)")
  .option("--dry-run", "print what would be deleted, delete nothing")
  .action((opts: { dryRun?: boolean }) => exitWith(() => retentionRun(opts))());

program
  .command("keys")
  .description("data keys of the encryption at rest (CLAWGATE_DATA_KEYS): make one, count values per key, rotate")
  .argument("<action>", "new, status or rotate")
  .option("--id <id>", "new: the new key's id (e.g. k2)")
  .option("--batch <n>", "rotate: rows per update (default 500)")
  .option("--pause-ms <ms>", "rotate: pause between batches (default 0)")
  .action((action: string, opts: KeysOptions) => exitWith(() => keys(action, opts))());

program
  .command("break-glass")
  .description(
    "print a one-time console sign-in link for an existing, active user (identity provider down; audited, opens an incident)",
  )
  .option("--email <email>", "the console user to sign in (required)")
  .option("--ttl <duration>", "how long the link and its session last: 30s to 4h (default 15m)")
  .option("--reason <text>", "why the identity provider is bypassed (required)")
  .action((opts: BreakGlassOptions) => exitWith(() => breakGlass(opts))());

program
  .command("incident")
  .description("incidents: list them, write one's report (the console's timeline), record its review (audited)")
  .argument("<action>", "list, report or review")
  .argument("[id]", "report, review: the incident's id")
  .option("--format <format>", "report: md or json (default md)")
  .option("--out <file>", "report: write to this file instead of stdout")
  .option("--text <text>", "review: what happened and what was learned")
  .option("--all", "list: every incident, not only the latest 50")
  .action((action: string, id: string | undefined, opts: IncidentOptions) =>
    exitWith(() => incident(action, id, opts))(),
  );

await program.parseAsync(process.argv);
