// test-engines: postgres ceph
// The S3 integration tests (the s3-tests style suites in test/s3-*.test.ts) again, on the
// distributed configuration: each file's server keeps its metadata in PostgreSQL and its blobs in
// Ceph through the S3 backend. The files are imported, not copied: SKEP_TEST_BACKEND switches the
// server they start (test/helpers/server.ts).

process.env.SKEP_TEST_BACKEND = 'distributed';

await import('./s3-objects.test.js');
await import('./s3-multipart.test.js');
await import('./s3-listing.test.js');
await import('./s3-buckets.test.js');
await import('./s3-errors.test.js');
await import('./s3-auth.test.js');
await import('./s3-limits.test.js');
await import('./s3-robustness.test.js');
await import('./s3-public-access.test.js');
