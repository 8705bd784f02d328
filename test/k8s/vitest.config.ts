import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The Kubernetes suite: a real etcd + kube-apiserver (+ kube-controller-manager) per test file, started by
// test/k8s/control-plane/control-plane.ts from binaries that test/k8s/control-plane/provision.sh builds once
// from the Go module proxy (cached under ~/.cache/millrace/k8s). Run it with
//   vitest run --config test/k8s/vitest.config.ts
export default defineConfig({
  test: {
    name: 'k8s',
    // Root at the repo (as the unit project), so vite's cache stays in the repo's node_modules.
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/k8s/**/*.test.ts'],
    // Builds the binaries before any file starts when they are not cached yet (no timeout applies there).
    globalSetup: ['test/k8s/control-plane/global-setup.ts'],
    // A control plane takes seconds to start on two busy cores; these only catch what escapes the helpers'
    // own deadlines.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // Two cores: at most two test files (each with its own control plane) at once.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
