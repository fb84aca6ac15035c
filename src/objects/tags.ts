import { S3Error } from '../s3/errors.js';

// S3's rules for tag sets: keys of 1-128 characters and values of up to 256, of letters, numbers,
// spaces and + - = . _ : / @ only; keys outside the reserved aws: namespace (in any case); at most
// 10 tags on an object and 50 on a bucket. S3 words the aws: refusal differently for each.

const OBJECT_TAGS = { max: 10, tooMany: 'Object tags cannot be greater than 10', reserved: 'Your TagKey cannot be prefixed with aws:' };
const BUCKET_TAGS = { max: 50, tooMany: 'Bucket tag count cannot be greater than 50', reserved: 'System tags cannot be added/updated by requester' };

/** The pattern of S3's Tag Key and Value (the API reference's S3Tag). */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function validateTagSet(tags: Record<string, string>, rules: typeof OBJECT_TAGS): void {
  const keys = Object.keys(tags);
  if (keys.length > rules.max) throw new S3Error('InvalidTag', rules.tooMany);
  for (const k of keys) {
    if (k.length === 0 || k.length > 128 || !TAG_CHARACTERS.test(k)) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if (k.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', rules.reserved);
    if (tags[k].length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is too long');
    if (!TAG_CHARACTERS.test(tags[k])) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
  }
}

export function validateTags(tags: Record<string, string>): void {
  validateTagSet(tags, OBJECT_TAGS);
}

export function validateBucketTags(tags: Record<string, string>): void {
  validateTagSet(tags, BUCKET_TAGS);
}
