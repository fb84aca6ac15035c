// What each Object Storage permission level allows, as the console explains it. The decisions
// themselves are made by src/auth/authorize.ts (LEVEL_RIGHTS); this is their description for
// people. It is kept apart so the browser bundle stays free of server modules, and
// test/console-units.test.ts checks that it says the same as the authorizer.

import { PERMISSION_LABELS, PERMISSION_LEVELS, type PermissionLevel } from '../../src/auth/principal.js';

export { PERMISSION_LABELS, PERMISSION_LEVELS, type PermissionLevel };

export interface PermissionInfo {
  level: PermissionLevel;
  label: string;
  /** What a token of this level may do (shown on its card and in the comparison table). */
  allows: string;
}

export const PERMISSIONS: PermissionInfo[] = [
  {
    level: 'admin-rw',
    label: PERMISSION_LABELS['admin-rw'],
    allows: 'Create, list, delete buckets; edit bucket configuration; read, write, list, delete objects.',
  },
  {
    level: 'admin-ro',
    label: PERMISSION_LABELS['admin-ro'],
    allows: 'List buckets; view bucket configuration; read and list objects.',
  },
  {
    level: 'object-rw',
    label: PERMISSION_LABELS['object-rw'],
    allows: 'Read, write, list, delete objects in the scoped buckets.',
  },
  {
    level: 'object-ro',
    label: PERMISSION_LABELS['object-ro'],
    allows: 'Read and list objects in the scoped buckets.',
  },
];

/** An authorizer right (src/auth/authorize.ts's Right), named the same. */
export type Right =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'ReadBucketConfig'
  | 'WriteBucketConfig'
  | 'ListObjects'
  | 'ReadObject'
  | 'WriteObject'
  | 'DeleteObject';

export interface Capability {
  label: string;
  /** The authorizer rights this row stands for. */
  rights: Right[];
  /** The levels that have all of them. */
  levels: PermissionLevel[];
  note?: Partial<Record<PermissionLevel, string>>;
}

/** Rows of the comparison table on the create-token form. */
export const CAPABILITIES: Capability[] = [
  { label: 'List buckets', rights: ['ListBuckets'], levels: ['admin-rw', 'admin-ro', 'object-rw', 'object-ro'], note: { 'object-rw': 'scoped', 'object-ro': 'scoped' } },
  { label: 'Create and delete buckets', rights: ['CreateBucket', 'DeleteBucket'], levels: ['admin-rw'] },
  { label: 'View bucket configuration', rights: ['ReadBucketConfig'], levels: ['admin-rw', 'admin-ro'] },
  { label: 'Edit bucket configuration', rights: ['WriteBucketConfig'], levels: ['admin-rw'] },
  { label: 'Read and list objects', rights: ['ReadObject', 'ListObjects'], levels: ['admin-rw', 'admin-ro', 'object-rw', 'object-ro'] },
  { label: 'Write and delete objects', rights: ['WriteObject', 'DeleteObject'], levels: ['admin-rw', 'object-rw'] },
];
