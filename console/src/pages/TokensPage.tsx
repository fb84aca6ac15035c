import { useCallback, useEffect, useState } from 'react';
import { ActionIcon, Badge, Button, Code, EmptyState, Group, Menu, Modal, NumberInput, Paper, Select, SimpleGrid, Stack, Table, Text, TextInput, Tooltip } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconDots, IconKey, IconPlayerPause, IconPlayerPlay, IconPlus, IconRefresh, IconBan, IconCircleCheck, IconClockHour4 } from '@tabler/icons-react';
import { api, errorMessage, type IssuedTemporary, type IssuedToken, type TemporaryCredentials, type TokenView } from '../api';
import { PERMISSIONS, type PermissionLevel } from '../permissions';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { ConfirmModal } from '../components/ConfirmModal';
import { StatusBadge } from '../components/StatusBadge';
import { CredentialsPanel, TemporaryCredentialsPanel } from '../components/CredentialsPanel';
import { TableSkeleton } from './BucketsPage';
import { formatDate, formatDateTime, formatRelative } from '../format';
import { useLinkProps } from '../router';
import { useSession } from '../session';

type Load = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; data: TokenView[] };

type Dialog =
  | { kind: 'revoke'; token: TokenView }
  | { kind: 'disable'; token: TokenView }
  | { kind: 'rotate'; token: TokenView }
  | { kind: 'rotated'; issued: IssuedToken }
  | { kind: 'temporary'; token: TokenView }
  | null;

function order(tokens: TokenView[]): TokenView[] {
  const rank = (t: TokenView) => (t.status === 'revoked' ? 2 : t.status === 'expired' ? 1 : 0);
  return [...tokens].sort((a, b) => rank(a) - rank(b) || b.createdAt.localeCompare(a.createdAt));
}

export function TokensPage() {
  const { project } = useSession();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [dialog, setDialog] = useState<Dialog>(null);
  const create = useLinkProps({ name: 'token-new', projectId: project.id });

  const reload = useCallback(async () => {
    try {
      setLoad({ state: 'ready', data: order((await api.listTokens(project.id)).items) });
    } catch (err) {
      setLoad({ state: 'error', message: errorMessage(err) });
    }
  }, [project.id]);
  useEffect(() => {
    setLoad({ state: 'loading' });
    void reload();
  }, [reload]);

  async function act(token: TokenView, action: 'enable' | 'confirm-rotation') {
    try {
      await api.tokenAction(project.id, token.id, action);
      notifications.show({ color: 'teal', message: action === 'enable' ? `Token "${token.name}" enabled.` : `Rotation of "${token.name}" confirmed: the old secret no longer works.` });
    } catch (err) {
      notifications.show({ color: 'red', title: 'That did not work', message: errorMessage(err) });
    }
    await reload();
  }

  const createButton = (
    <Button component="a" {...create} leftSection={<IconPlus size={18} />} data-testid="create-token">
      Create Token
    </Button>
  );

  return (
    <>
      <PageHeader
        title="API Tokens"
        description="Each token holds an S3 access key pair and a REST API bearer token, limited to a permission level, a set of buckets and an expiry."
        actions={createButton}
      />
      {load.state === 'loading' && <TableSkeleton />}
      {load.state === 'error' && <LoadError what="tokens" message={load.message} onRetry={reload} />}
      {load.state === 'ready' && load.data.length === 0 && (
        <Paper withBorder radius="md" py={48} px="md">
          <EmptyState
            icon={<IconKey size={32} />}
            withIndicatorBackground
            title="No API tokens yet"
            description="Create a token to connect the AWS CLI, an SDK, rclone or your app to this project's buckets."
          >
            <EmptyState.Actions>{createButton}</EmptyState.Actions>
          </EmptyState>
        </Paper>
      )}
      {load.state === 'ready' && load.data.length > 0 && <TokenList tokens={load.data} onDialog={setDialog} onAct={act} />}

      {dialog?.kind === 'revoke' && (
        <ConfirmModal
          opened
          title={`Revoke token "${dialog.token.name}"?`}
          confirmLabel="Revoke token"
          testId="revoke-modal"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.tokenAction(project.id, dialog.token.id, 'revoke');
            notifications.show({ color: 'teal', message: `Token "${dialog.token.name}" revoked.` });
            await reload();
          }}
        >
          <Text size="sm">
            Requests signed with access key <Code>{dialog.token.accessKeyId}</Code> or sent with its bearer token fail from now on, presigned URLs
            included. A revoked token cannot be enabled again.
          </Text>
        </ConfirmModal>
      )}
      {dialog?.kind === 'disable' && (
        <ConfirmModal
          opened
          title={`Disable token "${dialog.token.name}"?`}
          confirmLabel="Disable token"
          color="orange"
          testId="disable-modal"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.tokenAction(project.id, dialog.token.id, 'disable');
            notifications.show({ color: 'teal', message: `Token "${dialog.token.name}" disabled.` });
            await reload();
          }}
        >
          <Text size="sm">Its requests fail until you enable it again. Nothing else changes: same keys, same expiry.</Text>
        </ConfirmModal>
      )}
      {dialog?.kind === 'rotate' && (
        <RotateModal
          token={dialog.token}
          onClose={() => setDialog(null)}
          onRotated={async (issued) => {
            setDialog({ kind: 'rotated', issued });
            await reload();
          }}
        />
      )}
      {dialog?.kind === 'temporary' && <TemporaryModal token={dialog.token} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'rotated' && (
        <Modal opened onClose={() => setDialog(null)} title={`New credentials for "${dialog.issued.token.name}"`} size="xl" closeOnClickOutside={false}>
          <CredentialsPanel issued={dialog.issued} rotated />
          <Group justify="flex-end" mt="md">
            <Button onClick={() => setDialog(null)}>I have saved the secret</Button>
          </Group>
        </Modal>
      )}
    </>
  );
}

type RowProps = { token: TokenView; onDialog: (d: Dialog) => void; onAct: (t: TokenView, a: 'enable' | 'confirm-rotation') => void };

/** The token list: a table on wide screens, a card per token on phones (no sideways scrolling). */
function TokenList(props: { tokens: TokenView[] } & Omit<RowProps, 'token'>) {
  const phone = useMediaQuery('(max-width: 48em)') ?? false;
  if (phone) {
    return (
      <Stack gap="sm" data-testid="tokens-cards">
        {props.tokens.map((t) => (
          <TokenCard key={t.id} token={t} onDialog={props.onDialog} onAct={props.onAct} />
        ))}
      </Stack>
    );
  }
  return (
    <Paper withBorder radius="md">
      <Table.ScrollContainer type="native" minWidth={900}>
        <Table verticalSpacing="sm" highlightOnHover data-testid="tokens-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Permission</Table.Th>
              <Table.Th>Buckets</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>Last used</Table.Th>
              <Table.Th w={56} aria-label="Actions" />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {props.tokens.map((t) => (
              <TokenRow key={t.id} token={t} onDialog={props.onDialog} onAct={props.onAct} />
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

function TokenRow({ token: t, onDialog, onAct }: RowProps) {
  return (
    <Table.Tr data-testid="token-row" data-token-name={t.name} data-status={t.status} style={t.status === 'revoked' ? { opacity: 0.65 } : undefined}>
      <Table.Td maw={260}>
        <TokenName token={t} />
      </Table.Td>
      <Table.Td>
        <TokenPermission token={t} />
      </Table.Td>
      <Table.Td maw={220}>
        <TokenScope token={t} />
      </Table.Td>
      <Table.Td>
        <TokenState token={t} />
      </Table.Td>
      <Table.Td>
        <TokenExpiry token={t} />
      </Table.Td>
      <Table.Td>
        <TokenLastUsed token={t} />
      </Table.Td>
      <Table.Td>
        <TokenActions token={t} onDialog={onDialog} onAct={onAct} />
      </Table.Td>
    </Table.Tr>
  );
}

function TokenCard({ token: t, onDialog, onAct }: RowProps) {
  const field = (label: string, value: React.ReactNode) => (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      {value}
    </div>
  );
  return (
    <Paper withBorder radius="md" p="md" data-testid="token-row" data-token-name={t.name} data-status={t.status} style={t.status === 'revoked' ? { opacity: 0.65 } : undefined}>
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="xs">
        <div style={{ minWidth: 0 }}>
          <TokenName token={t} />
        </div>
        <TokenActions token={t} onDialog={onDialog} onAct={onAct} />
      </Group>
      <SimpleGrid cols={2} spacing="sm" verticalSpacing="sm" mt="sm">
        {field('Permission', <TokenPermission token={t} />)}
        {field('Status', <TokenState token={t} />)}
        {field('Buckets', <TokenScope token={t} />)}
        {field('Expires', <TokenExpiry token={t} />)}
        {field('Last used', <TokenLastUsed token={t} />)}
      </SimpleGrid>
    </Paper>
  );
}

function TokenName({ token: t }: { token: TokenView }) {
  return (
    <>
      <Text size="sm" fw={600} truncate>
        {t.name}
      </Text>
      {t.description && (
        <Text size="xs" c="dimmed" lineClamp={1}>
          {t.description}
        </Text>
      )}
      <Text size="xs" c="dimmed" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
        {t.accessKeyId}
      </Text>
    </>
  );
}

function TokenPermission({ token: t }: { token: TokenView }) {
  return (
    <>
      <Text size="sm">{t.permissionLabel}</Text>
      {t.billing && (
        <Text size="xs" c="dimmed">
          + billing read
        </Text>
      )}
      {t.allowedNetworks && (
        <Tooltip label={t.allowedNetworks.join(', ')} withArrow>
          <Text size="xs" c="dimmed" tabIndex={0} data-testid="token-networks">
            from {t.allowedNetworks.length === 1 ? t.allowedNetworks[0] : `${t.allowedNetworks.length} networks`}
          </Text>
        </Tooltip>
      )}
      {t.rateLimit && (
        <Text size="xs" c="dimmed" data-testid="token-rate">
          ≤ {t.rateLimit} requests/min
        </Text>
      )}
    </>
  );
}

function TokenScope({ token: t }: { token: TokenView }) {
  if (t.bucketScope === null) return <Text size="sm">All buckets</Text>;
  return (
    <Group gap={4}>
      {t.bucketScope.slice(0, 3).map((b) => (
        <Badge key={b} variant="outline" color="gray" radius="sm" tt="none">
          {b}
        </Badge>
      ))}
      {t.bucketScope.length > 3 && (
        <Tooltip label={t.bucketScope.slice(3).join(', ')} withArrow>
          <Badge variant="light" color="gray" radius="sm" tt="none" tabIndex={0}>
            +{t.bucketScope.length - 3} more
          </Badge>
        </Tooltip>
      )}
    </Group>
  );
}

function TokenState({ token: t }: { token: TokenView }) {
  return (
    <Stack gap={4} align="flex-start">
      <StatusBadge status={t.status} />
      {t.rotationPending && (
        <Tooltip label={`Old secret works until ${formatDateTime(t.rotationDeadline)}`} withArrow>
          <Badge color="violet" variant="dot" radius="sm" tt="none" tabIndex={0}>
            Rotation pending
          </Badge>
        </Tooltip>
      )}
    </Stack>
  );
}

function TokenExpiry({ token: t }: { token: TokenView }) {
  return (
    <>
      <Tooltip label={formatDateTime(t.expiresAt)} withArrow disabled={!t.expiresAt}>
        <Text size="sm" tabIndex={t.expiresAt ? 0 : undefined}>
          {t.expiresAt ? formatDate(t.expiresAt) : 'Never'}
        </Text>
      </Tooltip>
      {/* The server decides expiry; a relative time from this browser's clock could contradict it. */}
      {t.expiresAt && t.status !== 'revoked' && t.status !== 'expired' && (
        <Text size="xs" c="dimmed">
          {formatRelative(t.expiresAt)}
        </Text>
      )}
    </>
  );
}

function TokenLastUsed({ token: t }: { token: TokenView }) {
  return (
    <Tooltip label={formatDateTime(t.lastUsedAt)} withArrow disabled={!t.lastUsedAt}>
      <Text size="sm" c={t.lastUsedAt ? undefined : 'dimmed'} data-testid="token-last-used" tabIndex={t.lastUsedAt ? 0 : undefined}>
        {t.lastUsedAt ? formatRelative(t.lastUsedAt) : 'Never'}
      </Text>
    </Tooltip>
  );
}

function TokenActions({ token: t, onDialog, onAct }: RowProps) {
  if (t.status === 'revoked') return null;
  return (
    <Group gap={4} wrap="nowrap" justify="flex-end">
      {t.rotationPending && (
        <Tooltip label="Confirm rotation: the old secret stops working" withArrow>
          <ActionIcon variant="subtle" color="violet" onClick={() => onAct(t, 'confirm-rotation')} aria-label={`Confirm rotation of ${t.name}`}>
            <IconCircleCheck size={18} />
          </ActionIcon>
        </Tooltip>
      )}
      <Menu position="bottom-end" shadow="md" width={220}>
        <Menu.Target>
          <ActionIcon variant="subtle" color="gray" aria-label={`Actions for token ${t.name}`} data-testid="token-actions">
            <IconDots size={18} />
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          {t.rotationPending ? (
            <Menu.Item leftSection={<IconCircleCheck size={16} />} onClick={() => onAct(t, 'confirm-rotation')}>
              Confirm rotation
            </Menu.Item>
          ) : (
            <Menu.Item leftSection={<IconRefresh size={16} />} onClick={() => onDialog({ kind: 'rotate', token: t })} disabled={t.status === 'disabled' || t.status === 'expired'}>
              Rotate secret…
            </Menu.Item>
          )}
          {t.status === 'disabled' ? (
            <Menu.Item leftSection={<IconPlayerPlay size={16} />} onClick={() => onAct(t, 'enable')}>
              Enable
            </Menu.Item>
          ) : (
            <Menu.Item leftSection={<IconPlayerPause size={16} />} onClick={() => onDialog({ kind: 'disable', token: t })} disabled={t.status === 'expired'}>
              Disable…
            </Menu.Item>
          )}
          <Menu.Item
            leftSection={<IconClockHour4 size={16} />}
            onClick={() => onDialog({ kind: 'temporary', token: t })}
            disabled={t.status === 'disabled' || t.status === 'expired'}
            data-testid="token-temporary"
          >
            Temporary credentials…
          </Menu.Item>
          <Menu.Divider />
          <Menu.Item color="red" leftSection={<IconBan size={16} />} onClick={() => onDialog({ kind: 'revoke', token: t })} data-testid="token-revoke">
            Revoke…
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
    </Group>
  );
}

function RotateModal({ token, onClose, onRotated }: { token: TokenView; onClose: () => void; onRotated: (i: IssuedToken) => Promise<void> }) {
  const [grace, setGrace] = useState<number | string>(7);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const g = typeof grace === 'number' ? grace : Number.parseInt(grace, 10);
  const valid = Number.isInteger(g) && g >= 0 && g <= 30;
  async function rotate() {
    setBusy(true);
    setError(null);
    try {
      await onRotated(await api.rotateToken(token.projectId, token.id, g));
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }
  return (
    <Modal opened onClose={onClose} title={`Rotate "${token.name}"?`} centered>
      <Stack>
        <Text size="sm">
          skep issues a new secret access key and bearer token (the access key ID stays <Code>{token.accessKeyId}</Code>). The old ones keep working
          during a grace period, so you can update your clients; then confirm the rotation or let the grace period end.
        </Text>
        <NumberInput
          label="Grace period (days)"
          description="0 ends the old secret at once."
          min={0}
          max={30}
          allowDecimal={false}
          allowNegative={false}
          clampBehavior="none"
          value={grace}
          onChange={setGrace}
          error={valid ? undefined : 'Enter 0 to 30 days.'}
          w={200}
          data-autofocus
        />
        {error && (
          <Text c="red" size="sm" role="alert">
            {error}
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button onClick={rotate} loading={busy} disabled={!valid}>
            Rotate secret
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** The levels whose rights are within each level's. */
const NARROWER: Record<PermissionLevel, PermissionLevel[]> = {
  'admin-rw': ['admin-rw', 'admin-ro', 'object-rw', 'object-ro'],
  'admin-ro': ['admin-ro', 'object-ro'],
  'object-rw': ['object-rw', 'object-ro'],
  'object-ro': ['object-ro'],
};

const DURATIONS = [
  { value: '900', label: '15 minutes' },
  { value: '3600', label: '1 hour' },
  { value: '14400', label: '4 hours' },
  { value: '43200', label: '12 hours' },
];

/**
 * Temporary credentials of a token: those issued (with revoke), and a form for new ones; the new
 * secrets are shown once, in place of the form.
 */
function TemporaryModal({ token, onClose }: { token: TokenView; onClose: () => void }) {
  const [list, setList] = useState<TemporaryCredentials[] | null>(null);
  const [issued, setIssued] = useState<IssuedTemporary | null>(null);
  const [name, setName] = useState('session');
  const [duration, setDuration] = useState<string | null>('3600');
  const [permission, setPermission] = useState<string | null>(token.permission);
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const reload = useCallback(async () => {
    try {
      setList((await api.listTemporary(token.projectId, token.id)).items);
    } catch (err) {
      setError({ message: errorMessage(err) });
    }
  }, [token]);
  useEffect(() => {
    void reload();
  }, [reload]);
  // Levels no wider than the token's (the server checks too).
  const levels = PERMISSIONS.filter((p) => NARROWER[token.permission].includes(p.level));

  async function issue() {
    setBusy(true);
    setError(null);
    try {
      const r = await api.createTemporary(token.projectId, token.id, { name, durationSeconds: Number(duration), permission: (permission ?? token.permission) as PermissionLevel });
      setIssued(r);
      await reload();
    } catch (err) {
      const field = err instanceof Error && 'field' in err ? (err as { field?: string }).field : undefined;
      setError({ field, message: errorMessage(err) });
    }
    setBusy(false);
  }

  return (
    <Modal opened onClose={onClose} title={`Temporary credentials of "${token.name}"`} size="xl" closeOnClickOutside={!issued}>
      {issued ? (
        <>
          <TemporaryCredentialsPanel issued={issued} />
          <Group justify="flex-end" mt="md">
            <Button onClick={() => setIssued(null)} data-testid="temporary-done">
              I have saved them
            </Button>
          </Group>
        </>
      ) : (
        <Stack>
          <Text size="sm">
            Short-lived credentials for a job or a browser: an access key, a secret and a session token that act for this token, with the same or a
            narrower level, for 15 minutes to 12 hours and never past the token's expiry. Disabling or revoking the token ends them at once.
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            <TextInput label="Session name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={error?.field === 'name' ? error.message : undefined} data-testid="temporary-name" />
            <Select label="Lasts" data={DURATIONS} value={duration} onChange={setDuration} allowDeselect={false} error={error?.field === 'durationSeconds' ? error.message : undefined} data-testid="temporary-duration" />
            <Select label="Permission" data={levels.map((p) => ({ value: p.level, label: p.label }))} value={permission} onChange={setPermission} allowDeselect={false} data-testid="temporary-permission" />
          </SimpleGrid>
          {error && !['name', 'durationSeconds'].includes(error.field ?? '') && (
            <Text c="red" size="sm" role="alert">
              {error.message}
            </Text>
          )}
          <Group justify="flex-end">
            <Button onClick={issue} loading={busy} data-testid="temporary-issue">
              Issue temporary credentials
            </Button>
          </Group>
          {list && list.length > 0 && (
            <Table fz="sm" verticalSpacing={6} data-testid="temporary-list">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Access key</Table.Th>
                  <Table.Th>Permission</Table.Th>
                  <Table.Th>Expires</Table.Th>
                  <Table.Th miw={96}>Status</Table.Th>
                  <Table.Th aria-label="Actions" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.map((c) => (
                  <Table.Tr key={c.id} data-testid="temporary-row" data-status={c.status}>
                    <Table.Td>{c.name}</Table.Td>
                    <Table.Td ff="monospace">{c.accessKeyId}</Table.Td>
                    <Table.Td>{c.permission}</Table.Td>
                    <Table.Td>{formatDateTime(c.expiresAt)}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={c.status === 'active' ? 'teal' : 'gray'} radius="sm" tt="none" style={{ overflow: 'visible' }}>
                        {c.status}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      {c.status === 'active' && (
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          color="red"
                          data-testid="temporary-revoke"
                          onClick={async () => {
                            await api.revokeTemporary(token.projectId, token.id, c.id);
                            await reload();
                          }}
                        >
                          Revoke
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
    </Modal>
  );
}
