import { S3Error } from '../errors.js';
import type { S3Context } from '../context.js';
import type { S3Response } from '../render.js';
import { readSmallBody } from '../body.js';
import { onlyChildren, parseXml, xmlList, xmlNode, xmlText } from '../xml.js';
import { sseAlgorithm } from '../protection-headers.js';

// GetBucketEncryption, PutBucketEncryption, DeleteBucketEncryption: default encryption of new
// objects (AES256, i.e. SSE-S3; SSE-KMS is refused as on a PUT), and BlockedEncryptionTypes SSE-C.

/** SSEAlgorithm's enumeration in S3's schema. */
const SSE_ALGORITHMS = ['AES256', 'aws:kms', 'aws:kms:dsse'];

export async function GetBucketEncryption(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const { encryption } = await ctx.services.protection.get(bucket);
  if (!encryption) throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: bucket.name });
  return {
    xml: {
      root: 'ServerSideEncryptionConfiguration',
      value: {
        Rule: [
          {
            ApplyServerSideEncryptionByDefault: { SSEAlgorithm: encryption.algorithm },
            BucketKeyEnabled: encryption.bucketKeyEnabled,
            ...(encryption.blockSseC ? { BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] } } : {}),
          },
        ],
      },
    },
  };
}

export async function PutBucketEncryption(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  const doc = onlyChildren(parseXml(await readSmallBody(ctx.req, ctx.auth.payload, 64 * 1024), 'ServerSideEncryptionConfiguration'), ['Rule']);
  const rules = xmlList(doc.Rule);
  if (rules.length !== 1) throw new S3Error('MalformedXML', 'A ServerSideEncryptionConfiguration has exactly one Rule.');
  // A misspelt <BlockedEncryptionTypes> read as absent would leave SSE-C open.
  const rule = onlyChildren(xmlNode(rules[0])!, ['ApplyServerSideEncryptionByDefault', 'BucketKeyEnabled', 'BlockedEncryptionTypes']);
  const apply = rule.ApplyServerSideEncryptionByDefault === undefined ? undefined : onlyChildren(xmlNode(rule.ApplyServerSideEncryptionByDefault)!, ['SSEAlgorithm', 'KMSMasterKeyID']);
  const algorithm = apply ? xmlText(apply.SSEAlgorithm) : undefined;
  if (algorithm === undefined) throw new S3Error('MalformedXML', 'The Rule needs ApplyServerSideEncryptionByDefault with an SSEAlgorithm.');
  // A value outside the schema's enumeration fails S3's validation of the document before its meaning is looked at.
  if (!SSE_ALGORITHMS.includes(algorithm.trim())) throw new S3Error('MalformedXML', `Unknown SSEAlgorithm ${algorithm} (AES256, aws:kms or aws:kms:dsse).`);
  sseAlgorithm(algorithm.trim(), 'SSEAlgorithm');
  if (xmlText(apply!.KMSMasterKeyID) !== undefined) {
    throw new S3Error('InvalidArgument', 'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse', { ArgumentName: 'ApplyServerSideEncryptionByDefault' });
  }
  const bucketKey = xmlText(rule.BucketKeyEnabled)?.trim();
  if (bucketKey !== undefined && bucketKey !== 'true' && bucketKey !== 'false') throw new S3Error('MalformedXML', 'BucketKeyEnabled must be true or false.');
  const blockSseC = blockedTypes(rule.BlockedEncryptionTypes).includes('SSE-C');
  await ctx.services.protection.setEncryption(bucket, { algorithm: 'AES256', bucketKeyEnabled: bucketKey === 'true', ...(blockSseC ? { blockSseC } : {}) }, ctx.by);
  return {};
}

/** BlockedEncryptionTypes' EncryptionType values: SSE-C (blocked) or NONE (nothing blocked). */
function blockedTypes(node: unknown): string[] {
  if (node === undefined) return [];
  const types = xmlList(onlyChildren(xmlNode(node) ?? {}, ['EncryptionType']).EncryptionType).map((t) => xmlText(t)?.trim() ?? '');
  for (const t of types) if (t !== 'SSE-C' && t !== 'NONE') throw new S3Error('MalformedXML', `Unknown EncryptionType ${t} in BlockedEncryptionTypes (SSE-C or NONE).`);
  if (types.includes('SSE-C') && types.includes('NONE')) throw new S3Error('MalformedXML', 'BlockedEncryptionTypes names SSE-C and NONE at once.');
  return types;
}

export async function DeleteBucketEncryption(ctx: S3Context): Promise<S3Response> {
  const bucket = await ctx.bucket();
  await ctx.services.protection.setEncryption(bucket, null, ctx.by);
  return { status: 204 };
}
