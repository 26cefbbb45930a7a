-- Signed checkpoints of the audit chain: the retention purge deletes the oldest audit rows and, in
-- the same transaction, records the last deleted row's id and hash signed with HMAC-SHA256
-- (CLAWGATE_AUDIT_SIGNING_KEY). Verification starts from the newest checkpoint.
CREATE TABLE "AuditCheckpoint" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastId" BIGINT NOT NULL,
    "lastHash" TEXT NOT NULL,
    "lastAt" TIMESTAMP(3) NOT NULL,
    "purged" INTEGER NOT NULL,
    "signature" TEXT NOT NULL,

    CONSTRAINT "AuditCheckpoint_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "AuditCheckpoint_lastId_idx" ON "AuditCheckpoint"("lastId");

-- Still append-only, with one way to delete: the purge sets the transaction-local setting
-- clawgate.audit_purge_checkpoint to the id of the checkpoint it has just written, and only rows
-- that checkpoint covers (id <= its lastId, the checkpoint written by this same transaction) go.
CREATE OR REPLACE FUNCTION "audit_log_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  checkpoint text := current_setting('clawgate.audit_purge_checkpoint', true);
BEGIN
  IF TG_OP = 'DELETE' AND checkpoint IS NOT NULL AND checkpoint <> '' AND EXISTS (
    SELECT 1 FROM "AuditCheckpoint" c
    WHERE c."id" = checkpoint::bigint AND c."lastId" >= OLD."id" AND c.xmin = pg_current_xact_id()::xid
  ) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'AuditLog is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE FUNCTION "audit_checkpoint_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'AuditCheckpoint is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "AuditCheckpoint_append_only" BEFORE UPDATE OR DELETE ON "AuditCheckpoint"
  FOR EACH ROW EXECUTE FUNCTION "audit_checkpoint_append_only"();
CREATE TRIGGER "AuditCheckpoint_no_truncate" BEFORE TRUNCATE ON "AuditCheckpoint"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_checkpoint_append_only"();
