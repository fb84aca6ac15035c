import { useState, type FormEvent } from 'react';
import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { api, errorMessage } from '../api';
import { useFocusFirstInvalid } from './focusInvalid';

// "New folder": S3 has no folders, only keys; like other S3 consoles, a folder is an empty object
// whose key ends in "/", so it shows (and stays) before anything is uploaded into it.

/** Why a folder name cannot be used, or null. */
export function folderNameProblem(name: string): string | null {
  if (name.trim() === '') return 'Give the folder a name.';
  if (name.includes('/')) return 'A folder name cannot contain "/": make one folder, then another inside it.';
  if (name === '.' || name === '..') return 'A folder cannot be called "." or "..".';
  if (new TextEncoder().encode(name).length > 512) return 'That name is too long.';
  return null;
}

export function NewFolderModal({ projectId, bucket, prefix, onClose, onCreated }: { projectId: string; bucket: string; prefix: string; onClose: () => void; onCreated: (folder: string) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const problem = folderNameProblem(name);
    setError(problem);
    if (problem) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    try {
      const folder = `${prefix}${name.trim()}/`;
      await api.createFolder(projectId, bucket, folder);
      onCreated(folder);
    } catch (err) {
      setError(errorMessage(err));
      focusFirstInvalid();
      setBusy(false);
    }
  }

  return (
    <Modal opened onClose={onClose} title="New folder" centered>
      <form onSubmit={submit} noValidate ref={formRef}>
        <Stack>
          <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
            In {bucket}/{prefix}
          </Text>
          <TextInput
            label="Folder name"
            value={name}
            onChange={(e) => {
              setName(e.currentTarget.value);
              setError(null);
            }}
            error={error}
            data-autofocus
            data-testid="folder-name"
            autoComplete="off"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} data-testid="folder-create">
              Create folder
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
