import type { AuditRow } from '../storage/metadata/metadata-store.js';

// Who asked for a change, and where audit events go: services take these, protocols fill them in.

/** The caller of a request, for the audit log. */
export interface Actor {
  actor: string;
  tokenId: string | null;
  source: string | null;
}

export type AuditSink = (e: Omit<AuditRow, 'id' | 'at'>) => Promise<void>;
