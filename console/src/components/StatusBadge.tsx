import { Badge } from '@mantine/core';
import type { TokenStatus } from '../api';

const LOOK: Record<TokenStatus, { color: string; label: string }> = {
  active: { color: 'teal', label: 'Active' },
  'expiring-soon': { color: 'yellow', label: 'Expiring soon' },
  expired: { color: 'gray', label: 'Expired' },
  disabled: { color: 'orange', label: 'Disabled' },
  revoked: { color: 'red', label: 'Revoked' },
};

export function StatusBadge({ status }: { status: TokenStatus }) {
  const look = LOOK[status] ?? { color: 'gray', label: status };
  return (
    <Badge color={look.color} variant="light" radius="sm" data-testid="token-status">
      {look.label}
    </Badge>
  );
}
