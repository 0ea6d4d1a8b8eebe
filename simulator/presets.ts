/** The fixed simulated company that the committed acceptance-test files describe (integration_tests/): the same
 * seed, the same "now" of the generated history, and the port the acceptance tests' configs point at. */
export const ACCEPTANCE = {
  seed: 42,
  anchor: Date.parse('2026-11-01T00:00:00Z'),
  port: 8089,
} as const;
