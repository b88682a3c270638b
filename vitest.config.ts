import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 20_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["src/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "system",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/deploy/**"],
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
      // The deployment examples, checked against the Kubernetes and Compose schemas: no process needed.
      { extends: true, test: { name: "deploy", include: ["test/deploy/**/*.test.ts"] } },
    ],
  },
});
