import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ActionIcon, Alert, Anchor, Button, Checkbox, Code, EmptyState, Group, Modal, Paper, Skeleton, Stack, Table, Text, TextInput, Tooltip } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconBucket, IconGauge, IconPlus, IconTrash } from '@tabler/icons-react';
import { QuotaForm } from '../components/QuotaForm';
import { bucketNameProblem } from '../../../src/objects/bucket-name.js';
import { api, ApiError, errorMessage, type Bucket } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { ConfirmModal } from '../components/ConfirmModal';
import { formatBytes, formatCount, formatDate } from '../format';
import { useLinkProps } from '../router';
import { useSession } from '../session';
import { useFocusFirstInvalid } from '../components/focusInvalid';

type Load<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; data: T };

export function useBuckets(projectId: string) {
  const [load, setLoad] = useState<Load<Bucket[]>>({ state: 'loading' });
  const reload = useCallback(async () => {
    try {
      const { items } = await api.listBuckets(projectId);
      setLoad({ state: 'ready', data: items });
    } catch (err) {
      setLoad({ state: 'error', message: errorMessage(err) });
    }
  }, [projectId]);
  useEffect(() => {
    setLoad({ state: 'loading' });
    void reload();
  }, [reload]);
  return { load, reload };
}

export function BucketsPage() {
  const { project } = useSession();
  const { load, reload } = useBuckets(project.id);
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);
  const [deleting, setDeleting] = useState<Bucket | null>(null);
  const [quota, setQuota] = useState<Bucket | null>(null);
  // Members work with objects; creating and deleting buckets is for owners (admin rights).
  const manages = project.role !== 'member';

  const createButton = (
    <Button leftSection={<IconPlus size={18} />} onClick={openCreate} data-testid="create-bucket">
      Create bucket
    </Button>
  );

  return (
    <>
      <PageHeader
        title="Buckets"
        description={
          <>
            Buckets in <b>{project.name}</b>. Each one is reachable over S3 at <Code>{window.location.origin}/&lt;bucket&gt;</Code>.
          </>
        }
        actions={manages && load.state === 'ready' && load.data.length > 0 ? createButton : undefined}
      />
      {load.state === 'loading' && <TableSkeleton />}
      {load.state === 'error' && <LoadError what="buckets" message={load.message} onRetry={reload} />}
      {load.state === 'ready' && load.data.length === 0 && (
        <Paper withBorder radius="md" py={48} px="md">
          <EmptyState
            icon={<IconBucket size={32} />}
            withIndicatorBackground
            title="No buckets yet"
            description={
              manages
                ? 'A bucket holds objects (files). Create one here, or with any S3 client using an API token.'
                : 'A bucket holds objects (files). Ask an owner of this project to create one.'
            }
          >
            {manages && <EmptyState.Actions>{createButton}</EmptyState.Actions>}
          </EmptyState>
        </Paper>
      )}
      {load.state === 'ready' && load.data.length > 0 && (
        <Paper withBorder radius="md">
          <Table.ScrollContainer type="native" minWidth={560}>
            <Table verticalSpacing="sm" highlightOnHover data-testid="buckets-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th ta="right">Objects</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th w={96} aria-label="Actions" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {load.data.map((b) => (
                  <BucketRow key={b.name} bucket={b} projectId={project.id} onDelete={manages ? () => setDeleting(b) : undefined} onQuota={() => setQuota(b)} />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <CreateBucketModal
        opened={creating}
        onClose={closeCreate}
        projectId={project.id}
        existing={load.state === 'ready' ? load.data.map((b) => b.name) : []}
        onCreated={reload}
      />
      {quota && <QuotaModal bucket={quota} projectId={project.id} canEdit={manages} onClose={() => setQuota(null)} />}
      {deleting && <DeleteBucketModal bucket={deleting} projectId={project.id} onClose={() => setDeleting(null)} onDeleted={reload} />}
    </>
  );
}

/** A bucket's storage quota: owners set it, members see it. */
function QuotaModal({ bucket, projectId, canEdit, onClose }: { bucket: Bucket; projectId: string; canEdit: boolean; onClose: () => void }) {
  const load = useCallback(() => api.bucketQuota(projectId, bucket.name), [projectId, bucket.name]);
  const save = useCallback((q: Parameters<typeof api.setBucketQuota>[2]) => api.setBucketQuota(projectId, bucket.name, q), [projectId, bucket.name]);
  return (
    <Modal opened onClose={onClose} title={`Storage quota of ${bucket.name}`} size="lg">
      <Text size="sm" c="dimmed" mb="sm">
        The most this bucket may store. Writes past it are refused (S3 QuotaExceeded); the project&apos;s own quota applies as well.
      </Text>
      <QuotaForm load={load} save={canEdit ? save : undefined} testId="bucket-quota" />
    </Modal>
  );
}

function BucketRow({ bucket, projectId, onDelete, onQuota }: { bucket: Bucket; projectId: string; onDelete?: () => void; onQuota: () => void }) {
  const link = useLinkProps({ name: 'bucket', projectId, bucket: bucket.name, prefix: '' });
  return (
    <Table.Tr data-testid={`bucket-row-${bucket.name}`}>
      <Table.Td>
        <Group gap="xs" wrap="nowrap">
          <IconBucket size={18} color="var(--mantine-color-blue-6)" aria-hidden />
          <Anchor {...link} fw={500}>
            {bucket.name}
          </Anchor>
        </Group>
      </Table.Td>
      <Table.Td ta="right">{bucket.objects === null ? '—' : formatCount(bucket.objects)}</Table.Td>
      <Table.Td ta="right">{bucket.bytes === null ? '—' : formatBytes(bucket.bytes)}</Table.Td>
      <Table.Td>{formatDate(bucket.createdAt)}</Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap" justify="flex-end">
        <Tooltip label="Storage quota" withArrow>
          <ActionIcon variant="subtle" color="gray" onClick={onQuota} aria-label={`Storage quota of ${bucket.name}`} data-testid={`bucket-quota-${bucket.name}`}>
            <IconGauge size={18} />
          </ActionIcon>
        </Tooltip>
        {onDelete && (
          <Tooltip label="Delete bucket" withArrow>
            <ActionIcon variant="subtle" color="red" onClick={onDelete} aria-label={`Delete bucket ${bucket.name}`}>
              <IconTrash size={18} />
            </ActionIcon>
          </Tooltip>
        )}
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}

export function TableSkeleton({ rows = 4 }: { rows?: number }) {
  return (
    <Paper withBorder radius="md" p="md" aria-busy="true" aria-label="Loading">
      <Stack gap="sm">
        {Array.from({ length: rows }, (_, i) => (
          <Skeleton key={i} height={28} radius="sm" />
        ))}
      </Stack>
    </Paper>
  );
}

function CreateBucketModal({ opened, onClose, projectId, existing, onCreated }: { opened: boolean; onClose: () => void; projectId: string; existing: string[]; onCreated: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();

  const problem = bucketNameProblem(name) ?? (existing.includes(name) ? 'You already have a bucket with this name.' : null);
  const shownError = (touched && name !== '' ? problem : null) ?? serverError;

  function close() {
    setName('');
    setTouched(false);
    setServerError(null);
    onClose();
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (problem) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    setServerError(null);
    try {
      await api.createBucket(projectId, name);
      notifications.show({ color: 'teal', message: `Bucket "${name}" created.` });
      close();
      await onCreated();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setServerError('That name is taken. Bucket names are unique on this server; pick another.');
      else setServerError(errorMessage(err));
      focusFirstInvalid();
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal opened={opened} onClose={close} title="Create bucket" centered>
      <form onSubmit={submit} noValidate ref={formRef}>
        <Stack>
          <TextInput
            label="Bucket name"
            description="3–63 characters: lower-case letters, numbers, dots and hyphens; start and end with a letter or number."
            placeholder="my-bucket"
            value={name}
            onChange={(e) => {
              setName(e.currentTarget.value.trim());
              setServerError(null);
            }}
            onBlur={() => setTouched(true)}
            error={shownError}
            data-autofocus
            data-testid="bucket-name-input"
            autoComplete="off"
            spellCheck={false}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} disabled={name === '' || (touched && !!problem)} data-testid="create-bucket-submit">
              Create bucket
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function DeleteBucketModal({ bucket, projectId, onClose, onDeleted }: { bucket: Bucket; projectId: string; onClose: () => void; onDeleted: () => Promise<void> }) {
  const [force, setForce] = useState(false);
  const nonEmpty = (bucket.objects ?? 0) > 0;
  return (
    <ConfirmModal
      opened
      title={`Delete bucket "${bucket.name}"?`}
      confirmLabel="Delete bucket"
      canConfirm={!nonEmpty || force}
      testId="delete-bucket-modal"
      onClose={onClose}
      onConfirm={async () => {
        try {
          await api.deleteBucket(projectId, bucket.name, force);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            throw new Error('The bucket is not empty. Tick "Delete all objects too" to delete its objects with it.');
          }
          throw err;
        }
        notifications.show({ color: 'teal', message: `Bucket "${bucket.name}" deleted.` });
        await onDeleted();
      }}
    >
      <Text size="sm">
        S3 clients and tokens scoped to <b>{bucket.name}</b> will no longer reach it. This cannot be undone.
      </Text>
      {nonEmpty && (
        <Alert color="yellow" variant="light">
          This bucket holds {formatCount(bucket.objects ?? 0)} object{bucket.objects === 1 ? '' : 's'} ({formatBytes(bucket.bytes ?? 0)}). A bucket must be empty to be deleted.
        </Alert>
      )}
      <Checkbox
        label="Delete all objects too"
        description="Removes every object in the bucket first."
        checked={force}
        onChange={(e) => setForce(e.currentTarget.checked)}
        data-testid="delete-bucket-force"
      />
    </ConfirmModal>
  );
}
