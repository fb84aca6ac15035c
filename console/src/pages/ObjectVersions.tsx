import { useCallback, useEffect, useState } from 'react';
import { ActionIcon, Alert, Badge, Button, Group, Loader, Modal, Table, Text, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconDownload, IconLock, IconShieldLock, IconTrash } from '@tabler/icons-react';
import { api, errorMessage, type ObjectVersion } from '../api';
import { ConfirmModal } from '../components/ConfirmModal';
import { formatBytes, formatDateTime } from '../format';

// One object's versions (and delete markers), newest first, in a modal: download any version,
// delete one for good (Object Lock permitting), see retention and legal holds.

type Load = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; items: ObjectVersion[]; nextCursor: string | null };

export function ObjectVersions({ projectId, bucket, objectKey, onClose, onChanged }: { projectId: string; bucket: string; objectKey: string; onClose: () => void; onChanged: () => void }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [deleting, setDeleting] = useState<ObjectVersion | null>(null);

  const fetch = useCallback(
    async (cursor: string | null) => {
      try {
        const page = await api.listVersions(projectId, bucket, objectKey, cursor);
        setLoad((prev) => ({ state: 'ready', items: cursor && prev.state === 'ready' ? [...prev.items, ...page.items] : page.items, nextCursor: page.nextCursor }));
      } catch (err) {
        setLoad({ state: 'error', message: errorMessage(err) });
      }
    },
    [projectId, bucket, objectKey],
  );
  useEffect(() => {
    void fetch(null);
  }, [fetch]);

  return (
    <Modal opened onClose={onClose} size="xl" title={<Text fw={600} style={{ overflowWrap: 'anywhere' }}>Versions of {objectKey}</Text>} data-testid="versions-modal">
      {load.state === 'loading' && <Loader size="sm" aria-label="Loading versions" />}
      {load.state === 'error' && <Alert color="red">{load.message}</Alert>}
      {load.state === 'ready' && (
        <>
          {load.items.length <= 1 && (
            <Text size="sm" c="dimmed" mb="sm">
              Only one version: turn versioning on in the bucket settings to keep what overwrites and deletes replace.
            </Text>
          )}
          <Table.ScrollContainer type="native" minWidth={560}>
            <Table verticalSpacing="xs" data-testid="versions-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Version</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                  <Table.Th>Written</Table.Th>
                  <Table.Th w={88} aria-label="Actions" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {load.items.map((v) => (
                  <Table.Tr key={v.versionId} data-testid="version-row" data-latest={v.isLatest} data-delete-marker={v.isDeleteMarker}>
                    <Table.Td>
                      <Group gap={6} wrap="nowrap">
                        <Text size="xs" ff="monospace" title={v.versionId}>
                          {v.versionId === 'null' ? 'null' : `${v.versionId.slice(0, 10)}…`}
                        </Text>
                        {v.isLatest && (
                          <Badge size="xs" color="teal" variant="light">
                            current
                          </Badge>
                        )}
                        {v.isDeleteMarker && (
                          <Badge size="xs" color="gray" variant="light">
                            delete marker
                          </Badge>
                        )}
                        {v.retention && new Date(v.retention.until).getTime() > Date.now() && (
                          <Tooltip label={`${v.retention.mode} retention until ${formatDateTime(v.retention.until)}`} withArrow>
                            <IconLock size={16} aria-label={`${v.retention.mode} retention until ${v.retention.until}`} color="var(--mantine-color-orange-6)" />
                          </Tooltip>
                        )}
                        {v.legalHold && (
                          <Tooltip label="Legal hold" withArrow>
                            <IconShieldLock size={16} aria-label="Legal hold" color="var(--mantine-color-red-6)" />
                          </Tooltip>
                        )}
                        {v.encryption && (
                          <Badge size="xs" variant="outline" color="gray">
                            {v.encryption}
                          </Badge>
                        )}
                      </Group>
                    </Table.Td>
                    <Table.Td ta="right">{v.isDeleteMarker ? '—' : formatBytes(v.size)}</Table.Td>
                    <Table.Td>{formatDateTime(v.lastModified)}</Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap" justify="flex-end">
                        {!v.isDeleteMarker && v.encryption !== 'SSE-C' && (
                          <Tooltip label="Download this version" withArrow>
                            <ActionIcon component="a" href={api.objectContentUrl(projectId, bucket, objectKey, v.versionId)} variant="subtle" color="gray" aria-label={`Download version ${v.versionId}`}>
                              <IconDownload size={18} />
                            </ActionIcon>
                          </Tooltip>
                        )}
                        <Tooltip label="Delete this version for good" withArrow>
                          <ActionIcon variant="subtle" color="red" onClick={() => setDeleting(v)} aria-label={`Delete version ${v.versionId}`}>
                            <IconTrash size={18} />
                          </ActionIcon>
                        </Tooltip>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {load.nextCursor && (
            <Group justify="center" mt="sm">
              <Button variant="default" onClick={() => void fetch(load.nextCursor)}>
                Load more
              </Button>
            </Group>
          )}
        </>
      )}
      {deleting && (
        <ConfirmModal
          opened
          title={deleting.isDeleteMarker ? 'Remove delete marker?' : 'Delete this version?'}
          confirmLabel={deleting.isDeleteMarker ? 'Remove marker' : 'Delete version'}
          testId="delete-version-modal"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.deleteObject(projectId, bucket, objectKey, deleting.versionId);
            notifications.show({ color: 'teal', message: deleting.isDeleteMarker ? 'Delete marker removed.' : 'Version deleted.' });
            onChanged();
            await fetch(null);
          }}
        >
          <Text size="sm">
            {deleting.isDeleteMarker
              ? 'The version under it becomes current again.'
              : `Version ${deleting.versionId} (${formatBytes(deleting.size)}) is removed for good. A version under Object Lock cannot be.`}
          </Text>
        </ConfirmModal>
      )}
    </Modal>
  );
}
