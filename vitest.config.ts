import { defineConfig } from 'vitest/config';

// The default test run (README, .ci/run). Long studies live behind explicit commands.
export default defineConfig({
  test: {
    include: ['{sim,allocators,workloads,experiments,reports,bin}/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
