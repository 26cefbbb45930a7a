-- CreateTable
CREATE TABLE "ConfigSection" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ConfigSection_pkey" PRIMARY KEY ("key")
);
