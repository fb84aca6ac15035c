// Checksum algorithms S3 clients may send (x-amz-checksum-<name>) and how skep names them.

export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** The header that carries an algorithm's value, e.g. CRC32 -> x-amz-checksum-crc32. */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

export function parseChecksumAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (!value) return undefined;
  const upper = value.toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper) ? (upper as ChecksumAlgorithm) : undefined;
}

/** An object's (or part's) stored checksum: base64 value, as S3 returns it. */
export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
  /** base64 of the big-endian digest; for COMPOSITE values this includes the "-N" suffix. */
  value: string;
}
