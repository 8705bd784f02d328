import { defineConfig } from 'vitest/config';

// Test tiers are vitest projects so each can run on its own:
//   unit   - pure code, property tests, fuzzing, subprocess crash tests; no third-party installs (npm test)
//   compat - real third-party Kafka clients against a real broker process (npm run test:compat)
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['broker/**/*.test.ts', 'operator/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
