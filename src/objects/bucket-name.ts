// S3's general-purpose bucket naming rules, plus the names of skep's own paths (path-style
// /api and /console belong to the REST API and the web console).

export const RESERVED_BUCKET_NAMES = new Set(['api', 'console']);

export function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return 'Bucket names must be between 3 and 63 characters long.';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'Bucket names may contain only lower-case letters, numbers, dots and hyphens, and must begin and end with a letter or number.';
  }
  if (name.includes('..')) return 'Bucket names must not contain two adjacent periods.';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'Bucket names must not be formatted as an IP address.';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)) {
    return 'Bucket names must not use a reserved prefix or suffix.';
  }
  if (RESERVED_BUCKET_NAMES.has(name)) return `The bucket name "${name}" is reserved by skep.`;
  return null;
}
