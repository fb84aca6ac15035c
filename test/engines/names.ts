// The engines a test file may need, and the environment variables through which the test runner
// hands their connection settings to the tests.

export type EngineName = 'postgres' | 'ceph';
export const ENGINE_NAMES: readonly EngineName[] = ['postgres', 'ceph'];

export const ENGINE_ENV = {
  postgresUrl: 'SKEP_TEST_POSTGRES_URL',
  cephEndpoint: 'SKEP_TEST_CEPH_ENDPOINT',
  cephAccessKeyId: 'SKEP_TEST_CEPH_ACCESS_KEY_ID',
  cephSecretAccessKey: 'SKEP_TEST_CEPH_SECRET_ACCESS_KEY',
  /** JSON: { engine: why it did not start }. */
  errors: 'SKEP_TEST_ENGINE_ERRORS',
} as const;
