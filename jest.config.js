/** Jest runs the TypeScript sources directly through SWC (type checking is `tsc`'s job, run by `npm test`'s pretest step). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  testTimeout: 30000,
  // e2e suites bind real sockets; two workers match this machine's two cores.
  maxWorkers: 2,
};
