import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The compatibility suite: real third-party Kafka clients against a real Millrace broker process, one
// broker per test file. Run it with `npm run test:compat` (setup.sh installs the clients first).
export default defineConfig({
  test: {
    name: 'compat',
    // Root at the repo (as the unit project), so vite's cache stays in the repo's node_modules.
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/compat/**/*.test.ts'],
    // Every step inside a test has its own, shorter deadline; these only catch what escapes them.
    testTimeout: 180_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // Two cores: one test file (a broker + a client, often a JVM) per core.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
