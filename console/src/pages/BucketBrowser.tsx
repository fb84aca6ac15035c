import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import {
  ActionIcon,
  Anchor,
  Breadcrumbs,
  Button,
  CloseButton,
  EmptyState,
  FileButton,
  Group,
  Paper,
  Progress,
  Stack,
  Table,
  Text,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconArrowLeft, IconDownload, IconFile, IconFolder, IconFolderPlus, IconShare, IconTrash, IconUpload, IconCircleCheck, IconAlertCircle, IconHistory, IconSettings } from '@tabler/icons-react';
import { api, ApiError, errorMessage, type ObjectEntry } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';
import { ConfirmModal } from '../components/ConfirmModal';
import { TableSkeleton } from './BucketsPage';
import { formatBytes, formatDateTime } from '../format';
import { useLinkProps, useRouter, type Route } from '../router';
import { ShareModal } from '../components/ShareModal';
import { NewFolderModal } from '../components/NewFolderModal';
import { useSession } from '../session';
import { ObjectVersions } from './ObjectVersions';

interface Listing {
  prefixes: string[];
  items: ObjectEntry[];
  nextCursor: string | null;
}

type Load = { state: 'loading' } | { state: 'error'; message: string; notFound: boolean } | { state: 'ready'; data: Listing; more: boolean };

interface Upload {
  id: number;
  name: string;
  key: string;
  loaded: number;
  total: number;
  state: 'uploading' | 'done' | 'failed';
  error?: string;
  abort?: () => void;
}

const PAGE_SIZE = 100;
let uploadSeq = 0;

/** One bucket's objects, browsed like folders by '/'-delimited prefix. */
export function BucketBrowser({ bucket, prefix }: { bucket: string; prefix: string }) {
  const { project } = useSession();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [deleting, setDeleting] = useState<ObjectEntry | null>(null);
  const [versionsOf, setVersionsOf] = useState<string | null>(null);
  const settingsLink = useLinkProps({ name: 'bucket-settings', projectId: project.id, bucket });
  const [sharing, setSharing] = useState<ObjectEntry | null>(null);
  const [newFolder, setNewFolder] = useState(false);
  const { navigate } = useRouter();
  const [dragging, setDragging] = useState(false);
  const resetRef = useRef<() => void>(null);

  const fetchPage = useCallback(
    async (cursor: string | null, append: boolean) => {
      try {
        const page = await api.listObjects(project.id, bucket, { prefix, cursor, limit: PAGE_SIZE });
        setLoad((prev) => {
          if (append && prev.state === 'ready') {
            return {
              state: 'ready',
              more: false,
              data: { prefixes: [...prev.data.prefixes, ...page.prefixes], items: [...prev.data.items, ...page.items], nextCursor: page.nextCursor },
            };
          }
          return { state: 'ready', more: false, data: page };
        });
      } catch (err) {
        setLoad({ state: 'error', message: errorMessage(err), notFound: err instanceof ApiError && err.status === 404 });
      }
    },
    [project.id, bucket, prefix],
  );

  const reload = useCallback(() => fetchPage(null, false), [fetchPage]);
  useEffect(() => {
    setLoad({ state: 'loading' });
    void reload();
  }, [reload]);

  function startUploads(files: File[]) {
    if (files.length === 0) return;
    const fresh: Upload[] = files.map((f) => ({ id: ++uploadSeq, name: f.name, key: prefix + f.name, loaded: 0, total: f.size, state: 'uploading' }));
    setUploads((u) => [...fresh, ...u.filter((x) => x.state === 'uploading' || x.state === 'failed')]);
    const patch = (id: number, p: Partial<Upload>) => setUploads((u) => u.map((x) => (x.id === id ? { ...x, ...p } : x)));
    files.forEach((file, i) => {
      const up = fresh[i];
      const handle = api.uploadObject(project.id, bucket, up.key, file, (loaded, total) => patch(up.id, { loaded, total }));
      patch(up.id, { abort: handle.abort });
      handle.done.then(
        () => {
          patch(up.id, { state: 'done', loaded: file.size, total: file.size, abort: undefined });
          void reload();
        },
        (err) => patch(up.id, { state: 'failed', error: errorMessage(err), abort: undefined }),
      );
    });
    resetRef.current?.();
  }

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    startUploads(Array.from(e.dataTransfer.files));
  }

  const crumbs = breadcrumbs(project.id, bucket, prefix);
  const parent: Route = prefix
    ? { name: 'bucket', projectId: project.id, bucket, prefix: parentPrefix(prefix) }
    : { name: 'buckets', projectId: project.id };

  const uploadButton = (
    <FileButton onChange={startUploads} multiple resetRef={resetRef}>
      {(props) => (
        <Button leftSection={<IconUpload size={18} />} {...props} data-testid="upload-files">
          Upload files
        </Button>
      )}
    </FileButton>
  );
  const actions = (
    <>
      <Button variant="default" leftSection={<IconFolderPlus size={18} />} onClick={() => setNewFolder(true)} data-testid="new-folder">
        New folder
      </Button>
      {uploadButton}
    </>
  );
  // The folder's own marker object (an empty key ending in "/") is the folder, not a file in it.
  const files = load.state === 'ready' ? load.data.items.filter((o) => o.key !== prefix) : [];

  return (
    <div
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <PageHeader
        documentTitle={prefix ? `${prefix} in ${bucket}` : bucket}
        above={
          <Breadcrumbs separatorMargin={6} aria-label="Location" data-testid="breadcrumbs">
            {crumbs.map((c, i) => (
              <Crumb key={i} to={c.to} label={c.label} current={i === crumbs.length - 1} />
            ))}
          </Breadcrumbs>
        }
        title={
          <Group gap="xs" wrap="nowrap">
            <BackLink to={parent} />
            <span>{prefix ? lastSegment(prefix) : bucket}</span>
          </Group>
        }
        description={prefix ? <>Folder <code>{prefix}</code> in bucket {bucket}</> : 'Objects in this bucket, grouped into folders by "/" in their keys. Drop files here to upload.'}
        actions={
          <>
            <Button component="a" {...settingsLink} variant="default" leftSection={<IconSettings size={18} />} data-testid="bucket-settings-link">
              Settings
            </Button>
            {actions}
          </>
        }
      />

      {uploads.length > 0 && <UploadList uploads={uploads} onClear={() => setUploads((u) => u.filter((x) => x.state === 'uploading'))} />}

      {load.state === 'loading' && <TableSkeleton />}
      {load.state === 'error' && (
        <LoadError
          what={prefix ? 'this folder' : 'this bucket'}
          message={load.notFound ? `There is no bucket "${bucket}" in this project, or your role cannot see it.` : load.message}
          onRetry={load.notFound ? undefined : reload}
        />
      )}
      {load.state === 'ready' && (
        <Paper withBorder radius="md" style={dragging ? { outline: '2px dashed var(--mantine-color-blue-5)', outlineOffset: 4 } : undefined}>
          {load.data.prefixes.length === 0 && files.length === 0 ? (
            <EmptyState
              py={48}
              icon={<IconFolder size={32} />}
              withIndicatorBackground
              title={prefix ? 'This folder is empty' : 'This bucket is empty'}
              description="Upload files with the button, drop them here, or use any S3 client with an API token."
            >
              <EmptyState.Actions>{actions}</EmptyState.Actions>
            </EmptyState>
          ) : (
            <>
              <Table.ScrollContainer type="native" minWidth={560}>
                <Table verticalSpacing="xs" highlightOnHover data-testid="objects-table">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th>
                      <Table.Th ta="right">Size</Table.Th>
                      <Table.Th>Last modified</Table.Th>
                      <Table.Th w={164} aria-label="Actions" />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {load.data.prefixes.map((p) => (
                      <FolderRow key={p} projectId={project.id} bucket={bucket} prefix={p} name={p.slice(prefix.length)} />
                    ))}
                    {files.map((o) => (
                      <ObjectRow
                        key={o.key}
                        entry={o}
                        name={o.key.slice(prefix.length)}
                        href={api.objectContentUrl(project.id, bucket, o.key)}
                        onDelete={() => setDeleting(o)}
                        onShare={() => setSharing(o)}
                        onVersions={() => setVersionsOf(o.key)}
                      />
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
              {load.data.nextCursor && (
                <LoadMore
                  loading={load.more}
                  testId="load-more"
                  onClick={() => {
                    setLoad({ ...load, more: true });
                    void fetchPage(load.data.nextCursor, true);
                  }}
                />
              )}
            </>
          )}
        </Paper>
      )}

      {versionsOf && <ObjectVersions projectId={project.id} bucket={bucket} objectKey={versionsOf} onClose={() => setVersionsOf(null)} onChanged={() => void reload()} />}

      {sharing && <ShareModal projectId={project.id} bucket={bucket} objectKey={sharing.key} onClose={() => setSharing(null)} />}
      {newFolder && (
        <NewFolderModal
          projectId={project.id}
          bucket={bucket}
          prefix={prefix}
          onClose={() => setNewFolder(false)}
          onCreated={(folder) => {
            setNewFolder(false);
            navigate({ name: 'bucket', projectId: project.id, bucket, prefix: folder });
          }}
        />
      )}
      {deleting && (
        <ConfirmModal
          opened
          title="Delete object?"
          confirmLabel="Delete object"
          testId="delete-object-modal"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.deleteObject(project.id, bucket, deleting.key);
            notifications.show({ color: 'teal', message: `Deleted ${deleting.key}.` });
            await reload();
          }}
        >
          <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
            <code>{deleting.key}</code> ({formatBytes(deleting.size)}) will be removed from <b>{bucket}</b>. If the bucket keeps versions, it stays as an older version; otherwise this cannot be undone.
          </Text>
        </ConfirmModal>
      )}
    </div>
  );
}

function Crumb({ to, label, current }: { to: Route; label: string; current: boolean }) {
  const link = useLinkProps(to);
  if (current) {
    return (
      <Text size="sm" c="dimmed" aria-current="page">
        {label}
      </Text>
    );
  }
  return (
    <Anchor {...link} size="sm">
      {label}
    </Anchor>
  );
}

function BackLink({ to }: { to: Route }) {
  const link = useLinkProps(to);
  return (
    <Tooltip label="Up one level" withArrow>
      <ActionIcon component="a" {...link} variant="subtle" color="gray" aria-label="Up one level">
        <IconArrowLeft size={20} />
      </ActionIcon>
    </Tooltip>
  );
}

function FolderRow({ projectId, bucket, prefix, name }: { projectId: string; bucket: string; prefix: string; name: string }) {
  const link = useLinkProps({ name: 'bucket', projectId, bucket, prefix });
  return (
    <Table.Tr data-testid="folder-row">
      <Table.Td>
        <Group gap="xs" wrap="nowrap">
          <IconFolder size={18} color="var(--mantine-color-yellow-7)" aria-hidden />
          <Anchor {...link} fw={500} style={{ overflowWrap: 'anywhere' }}>
            {name}
          </Anchor>
        </Group>
      </Table.Td>
      <Table.Td ta="right" c="dimmed">
        —
      </Table.Td>
      <Table.Td c="dimmed">Folder</Table.Td>
      <Table.Td />
    </Table.Tr>
  );
}

function ObjectRow({ entry, name, href, onDelete, onShare, onVersions }: { entry: ObjectEntry; name: string; href: string; onDelete: () => void; onShare: () => void; onVersions: () => void }) {
  return (
    <Table.Tr data-testid="object-row" data-key={entry.key}>
      <Table.Td>
        <Group gap="xs" wrap="nowrap">
          <IconFile size={18} color="var(--mantine-color-gray-6)" aria-hidden />
          <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
            {name}
          </Text>
        </Group>
      </Table.Td>
      <Table.Td ta="right">{formatBytes(entry.size)}</Table.Td>
      <Table.Td>{formatDateTime(entry.lastModified)}</Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap" justify="flex-end">
          <Tooltip label="Download" withArrow>
            <ActionIcon component="a" href={href} download={lastSegment(entry.key)} variant="subtle" color="gray" aria-label={`Download ${entry.key}`}>
              <IconDownload size={18} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label="Share a link" withArrow>
            <ActionIcon variant="subtle" color="gray" onClick={onShare} aria-label={`Share ${entry.key}`}>
              <IconShare size={18} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label="Versions" withArrow>
            <ActionIcon variant="subtle" color="gray" onClick={onVersions} aria-label={`Versions of ${entry.key}`}>
              <IconHistory size={18} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label="Delete" withArrow>
            <ActionIcon variant="subtle" color="red" onClick={onDelete} aria-label={`Delete ${entry.key}`}>
              <IconTrash size={18} />
            </ActionIcon>
          </Tooltip>
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}

function UploadList({ uploads, onClear }: { uploads: Upload[]; onClear: () => void }) {
  const active = uploads.filter((u) => u.state === 'uploading').length;
  return (
    <Paper withBorder radius="md" p="md" mb="md" data-testid="uploads">
      <Group justify="space-between" mb="xs">
        <Text fw={600} size="sm">
          {active > 0 ? `Uploading ${active} file${active === 1 ? '' : 's'}…` : 'Uploads finished'}
        </Text>
        {active === 0 && (
          <Button variant="subtle" size="xs" color="gray" onClick={onClear}>
            Clear
          </Button>
        )}
      </Group>
      <Stack gap="sm">
        {uploads.map((u) => {
          const pct = u.total > 0 ? Math.round((u.loaded / u.total) * 100) : u.state === 'done' ? 100 : 0;
          return (
            <div key={u.id} data-testid="upload-row" data-state={u.state} data-key={u.key}>
              <Group justify="space-between" gap="xs" wrap="nowrap" mb={4}>
                <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
                  {u.state === 'done' && <IconCircleCheck size={16} color="var(--mantine-color-teal-6)" aria-hidden />}
                  {u.state === 'failed' && <IconAlertCircle size={16} color="var(--mantine-color-red-6)" aria-hidden />}
                  <Text size="sm" truncate>
                    {u.name}
                  </Text>
                </Group>
                <Group gap={6} wrap="nowrap">
                  <Text size="xs" c={u.state === 'failed' ? 'red' : 'dimmed'}>
                    {u.state === 'failed' ? 'Failed' : u.state === 'done' ? `Done · ${formatBytes(u.total)}` : `${pct}% of ${formatBytes(u.total)}`}
                  </Text>
                  {u.abort && <CloseButton size="sm" aria-label={`Cancel upload of ${u.name}`} onClick={u.abort} />}
                </Group>
              </Group>
              <Progress
                value={u.state === 'failed' ? 100 : pct}
                color={u.state === 'failed' ? 'red' : u.state === 'done' ? 'teal' : 'blue'}
                size="sm"
                animated={u.state === 'uploading'}
                aria-label={`Upload progress of ${u.name}`}
                data-testid="upload-progress"
                data-value={pct}
              />
              {u.error && (
                <Text size="xs" c="red" mt={4} role="alert">
                  {u.error}
                </Text>
              )}
            </div>
          );
        })}
      </Stack>
    </Paper>
  );
}

function parentPrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/$/, '');
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}

function lastSegment(key: string): string {
  const trimmed = key.replace(/\/$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1) || key;
}

function breadcrumbs(projectId: string, bucket: string, prefix: string): { label: string; to: Route }[] {
  const out: { label: string; to: Route }[] = [
    { label: 'Buckets', to: { name: 'buckets', projectId } },
    { label: bucket, to: { name: 'bucket', projectId, bucket, prefix: '' } },
  ];
  let acc = '';
  for (const part of prefix.split('/').filter((p, i, all) => p !== '' || i < all.length - 1)) {
    acc += `${part}/`;
    out.push({ label: part || '(empty)', to: { name: 'bucket', projectId, bucket, prefix: acc } });
  }
  return out;
}
