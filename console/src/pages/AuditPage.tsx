import { useCallback, useEffect, useMemo, useState } from 'react';
import { Alert, Badge, Button, Code, Collapse, EmptyState, Group, Menu, MultiSelect, Paper, Select, SimpleGrid, Stack, Table, Text, TextInput, Tooltip } from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { IconDownload, IconFilter, IconFilterOff, IconHistory } from '@tabler/icons-react';
import { api, ApiError, errorMessage, type AuditEvent, type AuditFilter, type TokenView } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';
import { TableSkeleton, useBuckets } from './BucketsPage';
import { formatDateTime } from '../format';
import { useSession } from '../session';
import { AUDIT_ACTIONS } from '../../../src/audit/actions.js';

// The project's audit log: who did what, when, from where; filtered by actor, action, token,
// bucket and time, read a page at a time, and exported as CSV or JSON.

const ACTIONS = AUDIT_ACTIONS;

const PAGE = 50;

type Load =
  | { state: 'loading' }
  | { state: 'forbidden' }
  | { state: 'error'; message: string }
  | { state: 'ready'; items: AuditEvent[]; next: string | null; more: boolean };

/** A date input's "YYYY-MM-DD" as the start of that day (UTC), or of the next day for "to". */
function dayBound(day: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const t = Date.parse(`${day}T00:00:00Z`) + (end ? 86_400_000 : 0);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

export function AuditPage() {
  const { project } = useSession();
  const { load: buckets } = useBuckets(project.id);
  const [tokens, setTokens] = useState<TokenView[]>([]);
  const [actor, setActor] = useState('');
  const [actions, setActions] = useState<string[]>([]);
  const [token, setToken] = useState<string | null>(null);
  const [bucket, setBucket] = useState<string | null>(null);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const phone = useMediaQuery('(max-width: 48em)') ?? false;
  // On a phone the filters fold away so that the events come first.
  const [filtersOpen, { toggle: toggleFilters }] = useDisclosure(false);

  const filter = useMemo<AuditFilter>(
    () => ({ actor: actor.trim() || undefined, action: actions, token: token ?? undefined, bucket: bucket ?? undefined, from: dayBound(from, false), to: dayBound(to, true) }),
    [actor, actions, token, bucket, from, to],
  );

  const fetchPage = useCallback(
    async (cursor: string | null) => {
      try {
        const page = await api.audit(project.id, filter, cursor, PAGE);
        setLoad((prev) => ({
          state: 'ready',
          items: cursor && prev.state === 'ready' ? [...prev.items, ...page.items] : page.items,
          next: page.nextCursor,
          more: false,
        }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 403) setLoad({ state: 'forbidden' });
        else setLoad({ state: 'error', message: errorMessage(err) });
      }
    },
    [project.id, filter],
  );

  useEffect(() => {
    // Typing in the actor box refetches once typing pauses.
    const t = setTimeout(() => void fetchPage(null), 250);
    return () => clearTimeout(t);
  }, [fetchPage]);

  useEffect(() => {
    api.listTokens(project.id).then((r) => setTokens(r.items), () => setTokens([]));
  }, [project.id]);

  const tokenNames = useMemo(() => new Map(tokens.map((t) => [t.id, t.name])), [tokens]);
  const filtered = !!(filter.actor || actions.length || token || bucket || from || to);
  const clear = () => {
    setActor('');
    setActions([]);
    setToken(null);
    setBucket(null);
    setFrom('');
    setTo('');
  };

  const exportMenu = (
    <Menu position="bottom-end" shadow="md">
      <Menu.Target>
        <Button variant="default" leftSection={<IconDownload size={18} />} data-testid="audit-export" disabled={load.state === 'forbidden'}>
          Export
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{filtered ? 'The events these filters select' : 'Every event'}</Menu.Label>
        <Menu.Item component="a" href={api.auditExportUrl(project.id, filter, 'csv')} download data-testid="audit-export-csv">
          CSV (spreadsheets)
        </Menu.Item>
        <Menu.Item component="a" href={api.auditExportUrl(project.id, filter, 'json')} download data-testid="audit-export-json">
          JSON
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Who did what in this project, when and from where: tokens, buckets, deletes, shared links, sign-ins and settings. Newest first."
        actions={exportMenu}
      />
      {phone && (
        <Button variant="default" fullWidth mb="sm" leftSection={<IconFilter size={16} />} onClick={toggleFilters} aria-expanded={filtersOpen} data-testid="audit-filters-toggle">
          {filtersOpen ? 'Hide filters' : filtered ? 'Filters (on)' : 'Filters'}
        </Button>
      )}
      <Collapse expanded={!phone || filtersOpen}>
      <Paper withBorder radius="md" p="md" mb="md" component="section" aria-label="Filters">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="sm">
          <TextInput label="Actor" placeholder="user:ada@example.com or token:…" value={actor} onChange={(e) => setActor(e.currentTarget.value)} data-testid="audit-actor" />
          <MultiSelect label="Action" placeholder={actions.length ? undefined : 'Any action'} data={ACTIONS} value={actions} onChange={setActions} searchable clearable data-testid="audit-action" />
          <Select
            label="Token"
            placeholder="Any token"
            data={tokens.map((t) => ({ value: t.id, label: `${t.name} (${t.accessKeyId})` }))}
            value={token}
            onChange={setToken}
            searchable
            clearable
            data-testid="audit-token"
          />
          <Select
            label="Bucket"
            placeholder="Any bucket"
            data={buckets.state === 'ready' ? buckets.data.map((b) => b.name) : []}
            value={bucket}
            onChange={setBucket}
            searchable
            clearable
            data-testid="audit-bucket"
          />
          <TextInput label="From (UTC day)" type="date" value={from} onChange={(e) => setFrom(e.currentTarget.value)} data-testid="audit-from" />
          <TextInput label="To (UTC day, inclusive)" type="date" value={to} onChange={(e) => setTo(e.currentTarget.value)} data-testid="audit-to" />
        </SimpleGrid>
        {filtered && (
          <Group justify="flex-end" mt="sm">
            <Button variant="subtle" size="xs" color="gray" leftSection={<IconFilterOff size={14} />} onClick={clear}>
              Clear filters
            </Button>
          </Group>
        )}
      </Paper>
      </Collapse>

      {load.state === 'loading' && <TableSkeleton />}
      {load.state === 'error' && <LoadError what="the audit log" message={load.message} onRetry={() => fetchPage(null)} />}
      {load.state === 'forbidden' && (
        <Alert color="gray" variant="light" title="Owners read the audit log" data-testid="audit-forbidden">
          You are a member of {project.name}. Its owners (and admin tokens with read and write access) can read the audit log.
        </Alert>
      )}
      {load.state === 'ready' && load.items.length === 0 && (
        <Paper withBorder radius="md" py={48} px="md">
          <EmptyState
            icon={<IconHistory size={32} />}
            withIndicatorBackground
            title={filtered ? 'No events match these filters' : 'No events yet'}
            description={filtered ? 'Widen the time range or clear a filter.' : 'Events appear here as tokens, buckets and settings change.'}
          />
        </Paper>
      )}
      {load.state === 'ready' && load.items.length > 0 && (
        <Paper withBorder radius="md">
          {phone ? (
            <Stack gap={0} data-testid="audit-list">
              {load.items.map((e) => (
                <EventCard key={e.id} event={e} tokenName={e.tokenId ? tokenNames.get(e.tokenId) : undefined} tokenNames={tokenNames} />
              ))}
            </Stack>
          ) : (
            <Table.ScrollContainer type="native" minWidth={820}>
              <Table verticalSpacing="xs" highlightOnHover data-testid="audit-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th w={170}>Time</Table.Th>
                    <Table.Th>Action</Table.Th>
                    <Table.Th>Actor</Table.Th>
                    <Table.Th>Bucket / token</Table.Th>
                    <Table.Th>Detail</Table.Th>
                    <Table.Th>Source</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {load.items.map((e) => (
                    <Table.Tr key={e.id} data-testid="audit-row" data-action={e.action}>
                      <Table.Td>
                        <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                          {formatDateTime(e.at)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <ActionBadge action={e.action} />
                      </Table.Td>
                      <Table.Td maw={240}>
                        <ActorLabel actor={e.actor} tokenNames={tokenNames} />
                      </Table.Td>
                      <Table.Td maw={200}>
                        <Subject event={e} tokenName={e.tokenId ? tokenNames.get(e.tokenId) : undefined} />
                      </Table.Td>
                      <Table.Td maw={320}>
                        <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                          {e.detail ?? ''}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" c="dimmed">
                          {e.source ?? '—'}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          {load.next && (
            <LoadMore
              loading={load.more}
              label="Load older events"
              testId="audit-more"
              onClick={() => {
                setLoad({ ...load, more: true });
                void fetchPage(load.next);
              }}
            />
          )}
        </Paper>
      )}
    </>
  );
}

const ACTION_COLOR: Record<string, string> = { bucket: 'blue', object: 'cyan', token: 'violet', auth: 'red', user: 'teal', project: 'grape' };

function ActionBadge({ action }: { action: string }) {
  return (
    <Badge variant="light" color={ACTION_COLOR[action.split('.')[0]] ?? 'gray'} radius="sm" tt="none" styles={{ root: { maxWidth: 'none' }, label: { overflow: 'visible' } }}>
      {action}
    </Badge>
  );
}

/** Who acted, readably: a user's email, a token's name (its id on hover), or the actor as stored. */
function ActorLabel({ actor, tokenNames }: { actor: string; tokenNames: Map<string, string> }) {
  const [kind, ...rest] = actor.split(':');
  const value = rest.join(':');
  if (kind === 'token' && value) {
    return (
      <Tooltip label={actor} withArrow>
        <Text size="sm" tabIndex={0} style={{ overflowWrap: 'anywhere' }}>
          <Text span c="dimmed" size="xs">
            token{' '}
          </Text>
          {tokenNames.get(value) ?? `${value.slice(0, 8)}…`}
        </Text>
      </Tooltip>
    );
  }
  if ((kind === 'user' || kind === 'cli') && value) {
    return (
      <Text size="sm" title={actor} style={{ overflowWrap: 'anywhere' }}>
        <Text span c="dimmed" size="xs">
          {kind}{' '}
        </Text>
        {value}
      </Text>
    );
  }
  return <Text size="sm">{actor}</Text>;
}

function Subject({ event: e, tokenName }: { event: AuditEvent; tokenName?: string }) {
  return (
    <Stack gap={2}>
      {e.bucket && (
        <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
          {e.bucket}
        </Text>
      )}
      {e.tokenId && (
        <Tooltip label={e.tokenId} withArrow>
          <Code tabIndex={0}>{tokenName ?? `${e.tokenId.slice(0, 8)}…`}</Code>
        </Tooltip>
      )}
      {!e.bucket && !e.tokenId && (
        <Text size="sm" c="dimmed">
          —
        </Text>
      )}
    </Stack>
  );
}

function EventCard({ event: e, tokenName, tokenNames }: { event: AuditEvent; tokenName?: string; tokenNames: Map<string, string> }) {
  return (
    <div data-testid="audit-row" data-action={e.action} style={{ padding: 'var(--mantine-spacing-sm) var(--mantine-spacing-md)', borderBottom: '1px solid var(--mantine-color-gray-2)' }}>
      <Group justify="space-between" gap="xs" wrap="nowrap">
        <ActionBadge action={e.action} />
        <Text size="xs" c="dimmed">
          {formatDateTime(e.at)}
        </Text>
      </Group>
      <Group gap={4} mt={4} wrap="wrap">
        <ActorLabel actor={e.actor} tokenNames={tokenNames} />
        {e.source ? <Text span c="dimmed" size="xs">{`from ${e.source}`}</Text> : null}
      </Group>
      {(e.bucket || e.tokenId) && <Subject event={e} tokenName={tokenName} />}
      {e.detail && (
        <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
          {e.detail}
        </Text>
      )}
    </div>
  );
}
