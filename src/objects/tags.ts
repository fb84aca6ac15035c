import { S3Error } from '../s3/errors.js';

// S3's rules for tag sets: keys of 1-128 characters and values of up to 256; at most 10 tags on an
// object, and at most 50 on a bucket, whose keys may not use the reserved aws: namespace.

const MAX_OBJECT_TAGS = 10;
const MAX_BUCKET_TAGS = 50;

function validateTagSet(tags: Record<string, string>, max: number, tooMany: string): void {
  const keys = Object.keys(tags);
  if (keys.length > max) throw new S3Error('InvalidTag', tooMany);
  for (const k of keys) {
    if (k.length === 0 || k.length > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if (tags[k].length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is too long');
  }
}

export function validateTags(tags: Record<string, string>): void {
  validateTagSet(tags, MAX_OBJECT_TAGS, `Object tags cannot be greater than ${MAX_OBJECT_TAGS}`);
}

export function validateBucketTags(tags: Record<string, string>): void {
  validateTagSet(tags, MAX_BUCKET_TAGS, `Bucket tag count cannot be greater than ${MAX_BUCKET_TAGS}`);
  if (Object.keys(tags).some((k) => k.toLowerCase().startsWith('aws:'))) throw new S3Error('InvalidTag', 'System tags cannot be added/updated by requester');
}
