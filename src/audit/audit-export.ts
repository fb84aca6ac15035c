import type { AuditRow } from '../storage/metadata/metadata-store.js';

// Audit events as CSV (RFC 4180), for the REST API's export and the CLI. Some fields hold text a
// stranger chose (a claimed access key in a failure's detail, an email): a cell that a
// spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with a quote.

export const AUDIT_CSV_COLUMNS = ['id', 'at', 'action', 'actor', 'tokenId', 'projectId', 'bucket', 'source', 'detail'] as const;

function cell(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditCsvHeader(): string {
  return `${AUDIT_CSV_COLUMNS.join(',')}\r\n`;
}

export function auditCsvLine(r: AuditRow): string {
  const values: Record<(typeof AUDIT_CSV_COLUMNS)[number], string | null> = {
    id: r.id,
    at: r.at.toISOString(),
    action: r.action,
    actor: r.actor,
    tokenId: r.tokenId,
    projectId: r.projectId,
    bucket: r.bucket,
    source: r.source,
    detail: r.detail,
  };
  return `${AUDIT_CSV_COLUMNS.map((c) => cell(values[c])).join(',')}\r\n`;
}
