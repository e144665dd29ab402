import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        environment: "node",
        pool: "forks",
        // Real-process suites (image build, local fleet) set their own longer timeouts per test.
        testTimeout: 30_000,
        hookTimeout: 120_000,
    },
});
