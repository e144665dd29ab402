import * as path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
    resolve: {
        // In-process tests import the workspace package by name but run its source, so an edit needs
        // no rebuild; processes the tests start (ts-node) load its built dist/, which `npm test` builds first.
        alias: { "@copilot-fleet/client": path.resolve(__dirname, "packages/client/src/index.ts") },
    },
    test: {
        include: ["test/**/*.test.ts"],
        environment: "node",
        pool: "forks",
        // Real-process suites (image build, local fleet) set their own longer timeouts per test.
        testTimeout: 30_000,
        hookTimeout: 120_000,
    },
});
