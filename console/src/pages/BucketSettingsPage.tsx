import { useCallback, useEffect, useState, type ReactNode } from 'react';
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Code,
  Group,
  NumberInput,
  Paper,
  SegmentedControl,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconInfoCircle, IconLock, IconPlus, IconTrash } from '@tabler/icons-react';
import { api, ApiError, errorMessage, type BucketSettings, type DefaultRetention, type LifecycleRule } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { ConfirmModal } from '../components/ConfirmModal';
import { TableSkeleton } from './BucketsPage';
import { useLinkProps } from '../router';
import { useSession } from '../session';

// One bucket's settings: versioning, Object Lock and its default retention, lifecycle rules,
// default encryption (each changed here by project owners, through the REST API), and its CORS
// rules and policy (shown; they are set through S3).

type Load = { state: 'loading' } | { state: 'error'; message: string; status: number } | { state: 'ready'; settings: BucketSettings };

export function BucketSettingsPage({ bucket }: { bucket: string }) {
  const { project } = useSession();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const canEdit = project.role === 'owner';

  const reload = useCallback(async () => {
    try {
      setLoad({ state: 'ready', settings: await api.bucketSettings(project.id, bucket) });
    } catch (err) {
      setLoad({ state: 'error', message: errorMessage(err), status: err instanceof ApiError ? err.status : 0 });
    }
  }, [project.id, bucket]);
  useEffect(() => {
    setLoad({ state: 'loading' });
    void reload();
  }, [reload]);

  /** Runs a change and shows the settings it returns (or its error as a notification). */
  const change = useCallback(
    async (what: string, fn: () => Promise<BucketSettings>) => {
      try {
        setLoad({ state: 'ready', settings: await fn() });
        notifications.show({ color: 'teal', message: what });
      } catch (err) {
        notifications.show({ color: 'red', title: 'Not changed', message: errorMessage(err) });
      }
    },
    [],
  );

  const buckets = useLinkProps({ name: 'buckets', projectId: project.id });
  const objects = useLinkProps({ name: 'bucket', projectId: project.id, bucket, prefix: '' });

  return (
    <>
      <PageHeader
        above={
          <Breadcrumbs separatorMargin={6} aria-label="Location">
            <Anchor {...buckets} size="sm">
              Buckets
            </Anchor>
            <Anchor {...objects} size="sm">
              {bucket}
            </Anchor>
            <Text size="sm" c="dimmed" aria-current="page">
              Settings
            </Text>
          </Breadcrumbs>
        }
        title={`${bucket} settings`}
        description="Versioning, Object Lock, lifecycle rules and encryption at rest protect what this bucket holds."
      />
      {load.state === 'loading' && <TableSkeleton />}
      {load.state === 'error' &&
        (load.status === 403 ? (
          <Alert color="gray" icon={<IconInfoCircle size={18} />} title="Owners only" data-testid="settings-forbidden">
            Bucket settings are shown to project owners and admin tokens. Ask an owner of this project to change them.
          </Alert>
        ) : (
          <LoadError what="the bucket settings" message={load.message} onRetry={load.status === 404 ? undefined : reload} />
        ))}
      {load.state === 'ready' && (
        <Stack gap="md" data-testid="bucket-settings">
          {!canEdit && (
            <Alert color="gray" icon={<IconInfoCircle size={18} />}>
              You can view these settings; project owners change them.
            </Alert>
          )}
          <VersioningSection settings={load.settings} canEdit={canEdit} onChange={(status) => change(`Versioning ${status === 'Enabled' ? 'enabled' : 'suspended'}.`, () => api.setVersioning(project.id, bucket, status))} />
          <ObjectLockSection settings={load.settings} canEdit={canEdit} onChange={(d) => change(d ? 'Default retention saved.' : 'Object Lock is on.', () => api.setObjectLock(project.id, bucket, d))} />
          <LifecycleSection settings={load.settings} canEdit={canEdit} onChange={(rules, what) => change(what, () => api.setLifecycle(project.id, bucket, rules))} />
          <Section title="Default encryption" testId="encryption-section">
            <Switch
              checked={!!load.settings.encryption}
              disabled={!canEdit}
              onChange={(e) => void change(e.currentTarget.checked ? 'New objects are encrypted.' : 'New objects are no longer encrypted by default.', () => api.setEncryption(project.id, bucket, e.currentTarget.checked))}
              label="Encrypt new objects at rest (SSE-S3, AES-256)"
              description="Each object gets its own data key, sealed under the server's master key. Existing objects keep how they were stored."
              data-testid="encryption-switch"
            />
          </Section>
          <Section title="CORS" testId="cors-section" hint="Set through S3 (PutBucketCors).">
            {load.settings.cors ? (
              <Table data-testid="cors-rules" verticalSpacing={4}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Origins</Table.Th>
                    <Table.Th>Methods</Table.Th>
                    <Table.Th>Headers</Table.Th>
                    <Table.Th ta="right">Max age</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {load.settings.cors.map((r, i) => (
                    <Table.Tr key={i}>
                      <Table.Td>{r.allowedOrigins.join(', ')}</Table.Td>
                      <Table.Td>{r.allowedMethods.join(', ')}</Table.Td>
                      <Table.Td>{r.allowedHeaders.join(', ') || '—'}</Table.Td>
                      <Table.Td ta="right">{r.maxAgeSeconds === undefined ? '—' : `${r.maxAgeSeconds} s`}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            ) : (
              <Text size="sm" c="dimmed">
                No CORS rules: browsers on other origins cannot call this bucket.
              </Text>
            )}
          </Section>
          <Section title="Bucket policy" testId="policy-section" hint="Set through S3 (PutBucketPolicy).">
            {load.settings.policy ? (
              <Code block>{prettyJson(load.settings.policy)}</Code>
            ) : (
              <Text size="sm" c="dimmed">
                No policy: only this project's tokens reach the bucket.
              </Text>
            )}
          </Section>
        </Stack>
      )}
    </>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function Section({ title, children, testId, hint }: { title: string; children: ReactNode; testId: string; hint?: string }) {
  return (
    <Paper withBorder radius="md" p="md" data-testid={testId} component="section" aria-label={title}>
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4">
          {title}
        </Title>
        {hint && (
          <Text size="xs" c="dimmed">
            {hint}
          </Text>
        )}
      </Group>
      {children}
    </Paper>
  );
}

function VersioningSection({ settings, canEdit, onChange }: { settings: BucketSettings; canEdit: boolean; onChange: (s: 'Enabled' | 'Suspended') => Promise<void> }) {
  const v = settings.versioning;
  const locked = settings.objectLock.enabled;
  return (
    <Section title="Versioning" testId="versioning-section">
      <Group justify="space-between" align="center">
        <div>
          <Group gap="xs">
            <Badge color={v === 'Enabled' ? 'teal' : v === 'Suspended' ? 'yellow' : 'gray'} variant="light" data-testid="versioning-status">
              {v === 'Disabled' ? 'Never enabled' : v}
            </Badge>
          </Group>
          <Text size="sm" c="dimmed" mt={6} maw={560}>
            {v === 'Enabled'
              ? 'Every overwrite and delete keeps the previous version; old versions take space until they are deleted (by hand or by a lifecycle rule).'
              : v === 'Suspended'
                ? 'New writes replace the "null" version; versions kept before stay.'
                : 'Each key holds one object: an overwrite or delete cannot be undone.'}
          </Text>
        </div>
        {canEdit &&
          (v === 'Enabled' ? (
            <Tooltip label="A bucket with Object Lock keeps versioning enabled" disabled={!locked} withArrow>
              <Button variant="default" disabled={locked} onClick={() => void onChange('Suspended')} data-testid="suspend-versioning">
                Suspend versioning
              </Button>
            </Tooltip>
          ) : (
            <Button onClick={() => void onChange('Enabled')} data-testid="enable-versioning">
              Enable versioning
            </Button>
          ))}
      </Group>
    </Section>
  );
}

function ObjectLockSection({ settings, canEdit, onChange }: { settings: BucketSettings; canEdit: boolean; onChange: (d: DefaultRetention | null) => Promise<void> }) {
  const lock = settings.objectLock;
  const [mode, setMode] = useState<DefaultRetention['mode']>(lock.defaultRetention?.mode ?? 'GOVERNANCE');
  const [days, setDays] = useState<number | string>(lock.defaultRetention?.days ?? (lock.defaultRetention?.years ? lock.defaultRetention.years * 365 : 30));
  const current = lock.defaultRetention;
  return (
    <Section title="Object Lock" testId="object-lock-section">
      {!lock.enabled ? (
        <Group justify="space-between" align="center">
          <Text size="sm" c="dimmed" maw={560}>
            Off. With Object Lock, versions can be kept from deletion for a retention period or under a legal hold, by anyone.
            {settings.versioning !== 'Enabled' && ' It needs versioning enabled first.'}
          </Text>
          {canEdit && (
            <Button variant="default" leftSection={<IconLock size={16} />} disabled={settings.versioning !== 'Enabled'} onClick={() => void onChange(null)} data-testid="enable-object-lock">
              Turn on Object Lock
            </Button>
          )}
        </Group>
      ) : (
        <Stack gap="sm">
          <Group gap="xs">
            <Badge color="teal" variant="light">
              On
            </Badge>
            <Text size="sm" data-testid="default-retention">
              {current ? `New versions are retained in ${current.mode} mode for ${current.days !== undefined ? `${current.days} days` : `${current.years} years`}.` : 'No default retention: versions are locked only when asked.'}
            </Text>
          </Group>
          {canEdit && (
            <Group align="flex-end" gap="sm">
              <SegmentedControl value={mode} onChange={(m) => setMode(m as DefaultRetention['mode'])} data={['GOVERNANCE', 'COMPLIANCE']} aria-label="Retention mode" />
              <NumberInput label="Days" min={1} max={36500} value={days} onChange={setDays} w={120} data-testid="retention-days" />
              <Button onClick={() => void onChange({ mode, days: Number(days) })} disabled={!Number(days)} data-testid="save-retention">
                Save default retention
              </Button>
              {current && (
                <Button variant="subtle" color="gray" onClick={() => void onChange(null)}>
                  Remove default
                </Button>
              )}
            </Group>
          )}
          <Text size="xs" c="dimmed">
            COMPLIANCE retention cannot be shortened by anyone; GOVERNANCE retention only by admin-rw tokens that ask to bypass it.
          </Text>
        </Stack>
      )}
    </Section>
  );
}

function describeRule(r: LifecycleRule): string {
  const parts: string[] = [];
  const e = r.expiration;
  if (e?.days !== undefined) parts.push(`expire after ${e.days} day${e.days === 1 ? '' : 's'}`);
  if (e?.date !== undefined) parts.push(`expire on ${e.date.slice(0, 10)}`);
  if (e?.expiredObjectDeleteMarker) parts.push('remove lone delete markers');
  const n = r.noncurrentVersionExpiration;
  if (n) parts.push(`delete old versions after ${n.noncurrentDays} day${n.noncurrentDays === 1 ? '' : 's'}${n.newerNoncurrentVersions ? ` (keep ${n.newerNoncurrentVersions})` : ''}`);
  const a = r.abortIncompleteMultipartUpload;
  if (a) parts.push(`abort uploads after ${a.daysAfterInitiation} day${a.daysAfterInitiation === 1 ? '' : 's'}`);
  return parts.join('; ');
}

function LifecycleSection({ settings, canEdit, onChange }: { settings: BucketSettings; canEdit: boolean; onChange: (rules: LifecycleRule[], what: string) => Promise<void> }) {
  const rules = settings.lifecycle?.rules ?? [];
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<LifecycleRule | null>(null);
  return (
    <Section title="Lifecycle rules" testId="lifecycle-section">
      <Text size="sm" c="dimmed" mb="sm" maw={640}>
        Rules run in the background: they expire objects, delete old versions and abort forgotten uploads. Versions under Object Lock are never removed.
      </Text>
      {rules.length > 0 ? (
        <Table.ScrollContainer type="native" minWidth={520}>
          <Table data-testid="lifecycle-rules" verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Rule</Table.Th>
                <Table.Th>Applies to</Table.Th>
                <Table.Th>Actions</Table.Th>
                <Table.Th w={48} aria-label="Remove" />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rules.map((r) => (
                <Table.Tr key={r.id} data-testid="lifecycle-rule">
                  <Table.Td>
                    <Group gap={6} wrap="nowrap">
                      <Text size="sm" fw={500}>
                        {r.id}
                      </Text>
                      {r.status === 'Disabled' && (
                        <Badge size="xs" color="gray">
                          Disabled
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{r.filter.prefix ? <code>{r.filter.prefix}*</code> : 'Every object'}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{describeRule(r)}</Text>
                  </Table.Td>
                  <Table.Td>
                    {canEdit && (
                      <ActionIcon variant="subtle" color="red" aria-label={`Remove rule ${r.id}`} onClick={() => setRemoving(r)}>
                        <IconTrash size={16} />
                      </ActionIcon>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : (
        <Text size="sm" c="dimmed" data-testid="no-lifecycle">
          No rules: objects and versions stay until deleted.
        </Text>
      )}
      {canEdit && !adding && (
        <Button mt="sm" variant="default" leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)} data-testid="add-rule">
          Add a rule
        </Button>
      )}
      {adding && (
        <RuleForm
          onCancel={() => setAdding(false)}
          onSave={async (rule) => {
            await onChange([...rules, rule], `Rule ${rule.id} added.`);
            setAdding(false);
          }}
        />
      )}
      {removing && (
        <ConfirmModal
          opened
          title="Remove rule?"
          confirmLabel="Remove rule"
          onClose={() => setRemoving(null)}
          onConfirm={() => onChange(rules.filter((r) => r.id !== removing.id), `Rule ${removing.id} removed.`)}
        >
          <Text size="sm">
            Rule <b>{removing.id}</b> ({describeRule(removing)}) stops applying.
          </Text>
        </ConfirmModal>
      )}
    </Section>
  );
}

function RuleForm({ onSave, onCancel }: { onSave: (r: LifecycleRule) => Promise<void>; onCancel: () => void }) {
  const [id, setId] = useState('');
  const [prefix, setPrefix] = useState('');
  const [expire, setExpire] = useState<number | string>('');
  const [noncurrent, setNoncurrent] = useState<number | string>('');
  const [abort, setAbort] = useState<number | string>('');
  const none = !Number(expire) && !Number(noncurrent) && !Number(abort);
  function save() {
    const rule: LifecycleRule = { id: id.trim() || `rule-${Date.now().toString(36)}`, status: 'Enabled', filter: { prefix, tags: {} } };
    if (Number(expire)) rule.expiration = { days: Number(expire) };
    if (Number(noncurrent)) rule.noncurrentVersionExpiration = { noncurrentDays: Number(noncurrent) };
    if (Number(abort)) rule.abortIncompleteMultipartUpload = { daysAfterInitiation: Number(abort) };
    void onSave(rule);
  }
  return (
    <Paper withBorder radius="md" p="md" mt="sm" bg="var(--mantine-color-gray-0)" data-testid="rule-form">
      <Stack gap="sm">
        <Group grow align="flex-start">
          <TextInput label="Name" placeholder="e.g. expire-logs" value={id} onChange={(e) => setId(e.currentTarget.value)} maxLength={255} data-testid="rule-id" />
          <TextInput label="Key prefix" description="Empty: every object" placeholder="logs/" value={prefix} onChange={(e) => setPrefix(e.currentTarget.value)} data-testid="rule-prefix" />
        </Group>
        <Group grow align="flex-start">
          <NumberInput label="Expire objects after (days)" min={1} value={expire} onChange={setExpire} data-testid="rule-expire" />
          <NumberInput label="Delete old versions after (days)" min={1} value={noncurrent} onChange={setNoncurrent} data-testid="rule-noncurrent" />
          <NumberInput label="Abort uploads after (days)" min={1} value={abort} onChange={setAbort} data-testid="rule-abort" />
        </Group>
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button onClick={save} disabled={none} data-testid="save-rule">
            Add rule
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}
