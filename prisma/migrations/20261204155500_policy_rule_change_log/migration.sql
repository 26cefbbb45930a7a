-- CreateTable
CREATE TABLE "PolicyChange" (
    "id" BIGSERIAL NOT NULL,
    "xid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
    "skillKey" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT clock_timestamp(),

    CONSTRAINT "PolicyChange_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PolicyChange_xid_idx" ON "PolicyChange"("xid");

-- CreateIndex
CREATE INDEX "PolicyChange_at_idx" ON "PolicyChange"("at");


-- Every rule written or deleted logs its key (both keys when an update moves it), whatever
-- wrote it: the console, onboard, the CLI, a cascade from a deleted skill, or SQL by hand.
CREATE FUNCTION clawgate_log_rule_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO "PolicyChange" ("skillKey", scope, subject) VALUES (NEW."skillKey", NEW.scope::text, NEW.subject);
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD."skillKey", OLD.scope, OLD.subject) IS DISTINCT FROM (NEW."skillKey", NEW.scope, NEW.subject)) THEN
    INSERT INTO "PolicyChange" ("skillKey", scope, subject) VALUES (OLD."skillKey", OLD.scope::text, OLD.subject);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "SkillRule_log_change" AFTER INSERT OR UPDATE OR DELETE ON "SkillRule"
  FOR EACH ROW EXECUTE FUNCTION clawgate_log_rule_change();

-- A TRUNCATE names no rows: it logs scope '*', which makes the next reload read every rule.
CREATE FUNCTION clawgate_log_rule_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "PolicyChange" ("skillKey", scope, subject) VALUES ('*', '*', '*');
  RETURN NULL;
END $$;

CREATE TRIGGER "SkillRule_log_truncate" AFTER TRUNCATE ON "SkillRule"
  FOR EACH STATEMENT EXECUTE FUNCTION clawgate_log_rule_truncate();
