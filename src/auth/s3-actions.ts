// Every action of Amazon S3 (IAM service prefix s3) and the resource types each applies to, as AWS's
// Service Authorization Reference lists them ("Actions, resources, and condition keys for Amazon S3",
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html), as of
// 2026-12-07 (taken through the iam-floyd project's list generated from that page), plus
// InitiateReplication, which earlier editions of the page listed. A bucket policy may name any of
// them, including those skep does not implement (a policy written for AWS must still be accepted);
// a name outside this list is refused, as AWS refuses it.

/** A resource type of the reference; `none` marks an action that takes no resource ("*" only). */
export type S3ResourceType =
  | 'bucket' | 'object' | 'accesspoint' | 'objectlambdaaccesspoint' | 'multiregionaccesspoint'
  | 'multiregionaccesspointrequestarn' | 'job' | 'storagelensconfiguration' | 'storagelensgroup'
  | 'accessgrantsinstance' | 'accessgrant' | 'accessgrantslocation' | 'none';

const BY_RESOURCE_TYPE: Record<S3ResourceType, string[]> = {
  bucket: [
    'AllowVendedLogDeliveryForResource', 'CreateBucket', 'CreateBucketMetadataTableConfiguration', 'DeleteBucket',
    'DeleteBucketMetadataTableConfiguration', 'DeleteBucketPolicy', 'DeleteBucketWebsite', 'GetAccelerateConfiguration',
    'GetAnalyticsConfiguration', 'GetBucketAbac', 'GetBucketAcl', 'GetBucketCORS', 'GetBucketLocation', 'GetBucketLogging',
    'GetBucketMetadataTableConfiguration', 'GetBucketNotification', 'GetBucketObjectLockConfiguration',
    'GetBucketOwnershipControls', 'GetBucketPolicy', 'GetBucketPolicyStatus', 'GetBucketPublicAccessBlock',
    'GetBucketRequestPayment', 'GetBucketTagging', 'GetBucketVersioning', 'GetBucketWebsite', 'GetEncryptionConfiguration',
    'GetIntelligentTieringConfiguration', 'GetInventoryConfiguration', 'GetLifecycleConfiguration', 'GetMetricsConfiguration',
    'GetReplicationConfiguration', 'ListBucket', 'ListBucketMultipartUploads', 'ListBucketVersions', 'ListTagsForResource',
    'PutAccelerateConfiguration', 'PutAnalyticsConfiguration', 'PutBucketAbac', 'PutBucketAcl', 'PutBucketCORS',
    'PutBucketLogging', 'PutBucketNotification', 'PutBucketObjectLockConfiguration', 'PutBucketOwnershipControls',
    'PutBucketPolicy', 'PutBucketPublicAccessBlock', 'PutBucketRequestPayment', 'PutBucketTagging', 'PutBucketVersioning',
    'PutBucketWebsite', 'PutEncryptionConfiguration', 'PutIntelligentTieringConfiguration', 'PutInventoryConfiguration',
    'PutLifecycleConfiguration', 'PutMetricsConfiguration', 'PauseReplication', 'PutReplicationConfiguration', 'TagResource', 'UntagResource',
    'UpdateBucketMetadataAnnotationTableConfiguration', 'UpdateBucketMetadataInventoryTableConfiguration',
    'UpdateBucketMetadataJournalTableConfiguration',
  ],
  object: [
    'AbortMultipartUpload', 'BypassGovernanceRetention', 'DeleteObject', 'DeleteObjectAnnotation', 'DeleteObjectTagging',
    'DeleteObjectVersion', 'DeleteObjectVersionAnnotation', 'DeleteObjectVersionTagging', 'GetObject', 'GetObjectAcl',
    'GetObjectAnnotation', 'GetObjectAttributes', 'GetObjectLegalHold', 'GetObjectRetention', 'GetObjectTagging',
    'GetObjectTorrent', 'GetObjectVersion', 'GetObjectVersionAcl', 'GetObjectVersionAnnotation',
    'GetObjectVersionAnnotationForReplication', 'GetObjectVersionAttributes', 'GetObjectVersionForReplication',
    'GetObjectVersionTagging', 'GetObjectVersionTorrent', 'InitiateReplication', 'ListMultipartUploadParts',
    'ListObjectAnnotations', 'ListObjectVersionAnnotations', 'ObjectOwnerOverrideToBucketOwner', 'PutObject', 'PutObjectAcl',
    'PutObjectAnnotation', 'PutObjectLegalHold', 'PutObjectRetention', 'PutObjectTagging', 'PutObjectVersionAcl',
    'PutObjectVersionAnnotation', 'PutObjectVersionTagging', 'ReplicateDelete', 'ReplicateObject', 'ReplicateObjectAnnotation',
    'ReplicateTags', 'RestoreObject', 'UpdateObjectEncryption',
  ],
  accesspoint: [
    'CreateAccessPoint', 'DeleteAccessPoint', 'DeleteAccessPointPolicy', 'GetAccessPoint', 'GetAccessPointPolicy',
    'GetAccessPointPolicyStatus', 'ListTagsForResource', 'PutAccessPointPolicy', 'TagResource', 'UntagResource',
  ],
  objectlambdaaccesspoint: [
    'CreateAccessPointForObjectLambda', 'DeleteAccessPointForObjectLambda', 'DeleteAccessPointPolicyForObjectLambda',
    'GetAccessPointConfigurationForObjectLambda', 'GetAccessPointForObjectLambda', 'GetAccessPointPolicyForObjectLambda',
    'GetAccessPointPolicyStatusForObjectLambda', 'PutAccessPointConfigurationForObjectLambda',
    'PutAccessPointPolicyForObjectLambda',
  ],
  multiregionaccesspoint: [
    'CreateMultiRegionAccessPoint', 'DeleteMultiRegionAccessPoint', 'GetMultiRegionAccessPoint',
    'GetMultiRegionAccessPointPolicy', 'GetMultiRegionAccessPointPolicyStatus', 'GetMultiRegionAccessPointRoutes',
    'PutMultiRegionAccessPointPolicy', 'SubmitMultiRegionAccessPointRoutes',
  ],
  multiregionaccesspointrequestarn: ['DescribeMultiRegionAccessPointOperation'],
  job: ['DeleteJobTagging', 'DescribeJob', 'GetJobTagging', 'ListTagsForResource', 'PutJobTagging', 'TagResource', 'UntagResource', 'UpdateJobPriority', 'UpdateJobStatus'],
  storagelensconfiguration: [
    'DeleteStorageLensConfiguration', 'DeleteStorageLensConfigurationTagging', 'GetStorageLensConfiguration',
    'GetStorageLensConfigurationTagging', 'GetStorageLensDashboard', 'ListTagsForResource', 'PutStorageLensConfigurationTagging',
    'TagResource', 'UntagResource',
  ],
  storagelensgroup: [
    'CreateStorageLensGroup', 'DeleteStorageLensGroup', 'GetStorageLensGroup', 'ListTagsForResource', 'TagResource',
    'UntagResource', 'UpdateStorageLensGroup',
  ],
  accessgrantsinstance: [
    'AssociateAccessGrantsIdentityCenter', 'CreateAccessGrant', 'CreateAccessGrantsInstance', 'CreateAccessGrantsLocation',
    'DeleteAccessGrantsInstance', 'DeleteAccessGrantsInstanceResourcePolicy', 'DissociateAccessGrantsIdentityCenter',
    'GetAccessGrantsInstance', 'GetAccessGrantsInstanceForPrefix', 'GetAccessGrantsInstanceResourcePolicy', 'GetDataAccess',
    'ListAccessGrants', 'ListAccessGrantsLocations', 'ListCallerAccessGrants', 'ListTagsForResource',
    'PutAccessGrantsInstanceResourcePolicy', 'TagResource', 'UntagResource',
  ],
  accessgrant: ['DeleteAccessGrant', 'GetAccessGrant', 'ListTagsForResource', 'TagResource', 'UntagResource'],
  accessgrantslocation: [
    'DeleteAccessGrantsLocation', 'GetAccessGrantsLocation', 'ListTagsForResource', 'TagResource', 'UntagResource',
    'UpdateAccessGrantsLocation',
  ],
  none: [
    'CreateJob', 'GetAccountPublicAccessBlock', 'ListAccessGrantsInstances', 'ListAccessPoints', 'ListAccessPointsForObjectLambda',
    'ListAllMyBuckets', 'ListJobs', 'ListMultiRegionAccessPoints', 'ListStorageLensConfigurations', 'ListStorageLensGroups',
    'PutAccessPointPublicAccessBlock', 'PutAccountPublicAccessBlock', 'PutStorageLensConfiguration',
  ],
};

/** Each action ("s3:GetObject") with the resource types it applies to. */
export const S3_ACTIONS: ReadonlyMap<string, readonly S3ResourceType[]> = (() => {
  const table = new Map<string, S3ResourceType[]>();
  for (const [type, names] of Object.entries(BY_RESOURCE_TYPE) as [S3ResourceType, string[]][]) {
    for (const name of names) table.set(`s3:${name}`, [...(table.get(`s3:${name}`) ?? []), type]);
  }
  return table;
})();
