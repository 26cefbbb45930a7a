// The repo's config plus React hooks and Next.js rules for the console.
import nextPlugin from "@next/eslint-plugin-next";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import root from "../../eslint.config.mjs";

export default [
  ...root,
  reactHooks.configs.flat["recommended-latest"],
  {
    plugins: { "@next/next": nextPlugin },
    rules: {
      ...nextPlugin.configs.recommended.rules,
      ...nextPlugin.configs["core-web-vitals"].rules,
      // App Router only: this rule looks for a pages/ directory.
      "@next/next/no-html-link-for-pages": "off",
    },
  },
  { files: ["src/**/*.tsx"], languageOptions: { globals: { ...globals.browser } } },
];
