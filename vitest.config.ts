import { defineConfig } from "vitest/config";

// Every test file runs in its own process (forks + isolate): PKCS#11 state is per process, and each
// file points SoftHSM at its own throw-away token directory.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    isolate: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    setupFiles: ["test/setup-reflect.ts", "test/setup-cleanup.ts"],
  },
});
