import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 20_000,
    projects: [
      // Unit tests, and test/runtime: which Node runs the tests (scripts/test.sh runs them on Node 24 too).
      { extends: true, test: { name: "unit", include: ["src/**/*.test.ts", "test/runtime/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "system",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/deploy/**", "test/runtime/**"],
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
      // The deployment examples, checked against the Kubernetes and Compose schemas: no process needed.
      { extends: true, test: { name: "deploy", include: ["test/deploy/**/*.test.ts"] } },
    ],
  },
});
