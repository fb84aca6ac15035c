import { useState } from 'react';
import { Alert, Button, Group, Modal, SegmentedControl, Stack, Text } from '@mantine/core';
import { api, errorMessage, type Presigned } from '../api';
import { CopyField } from './CopyField';
import { formatDateTime } from '../format';

// "Share" on an object: a presigned link that anyone can open until it expires. It is signed
// with the user's console token, so revoking that token (API Tokens) ends every such link.

const EXPIRIES = [
  { value: String(3600), label: '1 hour' },
  { value: String(86_400), label: '1 day' },
  { value: String(7 * 86_400), label: '7 days' },
];

export function ShareModal({ projectId, bucket, objectKey, onClose }: { projectId: string; bucket: string; objectKey: string; onClose: () => void }) {
  const [expiresIn, setExpiresIn] = useState(EXPIRIES[1].value);
  const [link, setLink] = useState<Presigned | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function create() {
    setBusy(true);
    setError(null);
    try {
      setLink(await api.presign(projectId, bucket, objectKey, Number(expiresIn)));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal opened onClose={onClose} title="Share a link" centered size="lg" data-testid="share-modal">
      <Stack>
        <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
          Anyone with the link can download <code>{objectKey}</code> from <b>{bucket}</b> until it expires. Revoking your console token (API Tokens) ends it sooner.
        </Text>
        <div>
          <Text size="sm" fw={500} mb={4} id="share-expiry">
            Link expires after
          </Text>
          <SegmentedControl
            data={EXPIRIES}
            value={expiresIn}
            onChange={(v) => {
              setExpiresIn(v);
              setLink(null);
            }}
            aria-labelledby="share-expiry"
            data-testid="share-expiry"
          />
        </div>
        {link && (
          <>
            <CopyField label="Link" value={link.url} testId="share-url" />
            <Text size="xs" c="dimmed" data-testid="share-expires-at">
              Works until {formatDateTime(link.expiresAt)}.
            </Text>
          </>
        )}
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            {link ? 'Done' : 'Cancel'}
          </Button>
          {!link && (
            <Button onClick={create} loading={busy} data-testid="share-create">
              Create link
            </Button>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}
