// The one table of S3 error codes skep answers with. Status and default message come from
// AWS's S3 error catalogue; every S3 failure in the codebase is an S3Error with one of these codes.

export const S3_ERRORS = {
  AccessDenied: [403, 'Access Denied'],
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.'],
  BadRequest: [400, 'Bad Request'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  InvalidBucketAclWithObjectOwnership: [400, 'Bucket cannot have ACLs set with ObjectOwnership\'s BucketOwnerEnforced setting'],
  InvalidBucketAclWithBlockPublicAccessError: [400, 'Bucket cannot have public ACLs set with BlockPublicAccess enabled'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  UnexpectedContent: [400, 'This request does not support content'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MalformedPolicy: [400, 'Policies must be valid JSON and the first byte must be \'{\''],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  UnresolvableGrantByEmailAddress: [400, 'The e-mail address you provided does not match any account on record.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadDigest: [400, 'The Content-MD5 you specified did not match what we received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IllegalLocationConstraintException: [400, 'The specified location-constraint is not valid.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRedirectLocation: [400, 'The website redirect location must have a prefix of \'http://\' or \'https://\' or \'/\'.'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid.'],
  InvalidURI: [400, 'Couldn\'t parse the specified URI.'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedTrailerError: [400, 'The request contained trailing data that was not well-formed or did not conform to our published schema.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist.'],
  NoSuchUpload: [404, 'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold.'],
  ConditionalRequestConflict: [409, 'A conflicting operation occurred. If using PutObject you can retry the request.'],
  OperationAborted: [409, 'A conflicting conditional operation is currently in progress against this resource. Try again.'],
  RequestHeaderSectionTooLarge: [400, 'Your request header section exceeds the maximum allowed size.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the server\'s time is too large.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  XAmzContentSHA256Mismatch: [400, 'The provided \'x-amz-content-sha256\' header does not match what was computed.'],
  InvalidChunkSizeError: [400, 'Only the last chunk is allowed to have a size less than 8192 bytes'],
  InvalidEncryptionAlgorithmError: [400, 'The encryption request you specified is not valid.'],
  TooManyParts: [400, 'An upload may have at most 10000 parts.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidRetentionPeriod: [400, 'The retention period is not valid.'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have an ObjectLock configuration'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found'],
  SlowDown: [503, 'Please reduce your request rate.'],
  // A storage backend (the blob service or the database) timed out or could not be reached: SDKs retry a 503.
  ServiceUnavailable: [503, 'Service is unable to handle request.'],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  // As Ceph RGW (and the services built on it) answer a write beyond a bucket's or account's quota.
  QuotaExceeded: [403, 'The quota would be exceeded.'],
  // AWS STS's codes, for AssumeRole / GetSessionToken on the S3 endpoint (rendered as STS errors).
  ValidationError: [400, 'The request is not valid.'],
  MalformedPolicyDocument: [400, 'The policy document is malformed.'],
  InvalidAction: [400, 'The action or operation requested is invalid.'],
  MissingAuthenticationToken: [403, 'Request is missing Authentication Token'],
  InvalidClientTokenId: [403, 'The security token included in the request is invalid.'],
  // MinIO's code for a full disk (507 Insufficient Storage), which S3 itself never needs.
  XMinioStorageFull: [507, 'Storage backend has reached its minimum free drive threshold. Please delete a few objects to proceed.'],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

export class S3Error extends Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  /** Extra elements placed in the XML error body (e.g. BucketName, Key, ArgumentName). */
  readonly extra: Record<string, string>;
  /** Extra response headers (e.g. x-amz-bucket-region). */
  readonly headers: Record<string, string>;

  constructor(code: S3ErrorCode, message?: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(message ?? S3_ERRORS[code][1]);
    this.name = 'S3Error';
    this.code = code;
    this.status = S3_ERRORS[code][0];
    this.extra = extra;
    this.headers = headers;
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}
