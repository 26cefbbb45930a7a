import type { NextConfig } from "next";

// Pages get their CSP (with a per-request nonce) from src/proxy.ts; these apply to every response.
const securityHeaders = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(), payment=()" },
  { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
];

const config: NextConfig = {
  // The e2e suite builds into its own folder so it never overwrites what `npm start` serves.
  distDir: process.env.CLAWGATE_NEXT_DIST_DIR ?? ".next",
  reactStrictMode: true,
  poweredByHeader: false,
  // Workspace packages are TypeScript source.
  transpilePackages: ["@clawgate/core", "@clawgate/db", "@clawgate/skills"],
  serverExternalPackages: ["pg", "@prisma/adapter-pg", "pino"],
  typescript: { ignoreBuildErrors: false },
  async headers() {
    return [
      { source: "/:path*", headers: securityHeaders },
      // API responses are JSON: they may load nothing and be framed by no one.
      {
        source: "/api/:path*",
        headers: [{ key: "Content-Security-Policy", value: "default-src 'none'; frame-ancestors 'none'" }],
      },
    ];
  },
};

export default config;
