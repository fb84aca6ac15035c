// Ready-to-paste client configurations for a freshly issued key pair (CLI and console).

export interface SnippetInput {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials' session token (x-amz-security-token). */
  sessionToken?: string;
  profile?: string;
}

export interface Snippets {
  awsCli: string;
  rclone: string;
  boto3: string;
  jsSdk: string;
}

export function clientSnippets(i: SnippetInput): Snippets {
  const profile = i.profile ?? 'skep';
  return {
    awsCli: [
      `# ~/.aws/credentials`,
      `[${profile}]`,
      `aws_access_key_id = ${i.accessKeyId}`,
      `aws_secret_access_key = ${i.secretAccessKey}`,
      ...(i.sessionToken ? [`aws_session_token = ${i.sessionToken}`] : []),
      ``,
      `# ~/.aws/config`,
      `[profile ${profile}]`,
      `region = ${i.region}`,
      `endpoint_url = ${i.endpoint}`,
      `s3 =`,
      `    addressing_style = path`,
      ``,
      `# then: aws --profile ${profile} s3 ls`,
      `# (endpoint_url in the config needs AWS CLI 1.29+ or 2.13+; with older ones add --endpoint-url ${i.endpoint})`,
    ].join('\n'),
    rclone: [
      `# ~/.config/rclone/rclone.conf`,
      `[${profile}]`,
      `type = s3`,
      `provider = Other`,
      `access_key_id = ${i.accessKeyId}`,
      `secret_access_key = ${i.secretAccessKey}`,
      ...(i.sessionToken ? [`session_token = ${i.sessionToken}`] : []),
      `endpoint = ${i.endpoint}`,
      `region = ${i.region}`,
      `force_path_style = true`,
      ``,
      `# then: rclone lsd ${profile}:`,
    ].join('\n'),
    boto3: [
      `import boto3`,
      `from botocore.config import Config`,
      ``,
      `s3 = boto3.client(`,
      `    "s3",`,
      `    endpoint_url="${i.endpoint}",`,
      `    region_name="${i.region}",`,
      `    aws_access_key_id="${i.accessKeyId}",`,
      `    aws_secret_access_key="${i.secretAccessKey}",`,
      ...(i.sessionToken ? [`    aws_session_token="${i.sessionToken}",`] : []),
      `    config=Config(s3={"addressing_style": "path"}),`,
      `)`,
      `print(s3.list_buckets()["Buckets"])`,
    ].join('\n'),
    jsSdk: [
      `import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3';`,
      ``,
      `const s3 = new S3Client({`,
      `  endpoint: '${i.endpoint}',`,
      `  region: '${i.region}',`,
      `  forcePathStyle: true,`,
      i.sessionToken
        ? `  credentials: { accessKeyId: '${i.accessKeyId}', secretAccessKey: '${i.secretAccessKey}', sessionToken: '${i.sessionToken}' },`
        : `  credentials: { accessKeyId: '${i.accessKeyId}', secretAccessKey: '${i.secretAccessKey}' },`,
      `});`,
      `console.log((await s3.send(new ListBucketsCommand({}))).Buckets);`,
    ].join('\n'),
  };
}
