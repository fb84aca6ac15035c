import { useState, type ReactNode } from 'react';
import { Alert, Button, Group, Modal, Stack } from '@mantine/core';
import { errorMessage } from '../api';

/**
 * A confirmation for something that cannot be undone. The action runs on confirm; its error is
 * shown in the modal (which stays open) so the person can fix it or cancel.
 */
export function ConfirmModal(props: {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  color?: string;
  /** false disables the confirm button (e.g. until a box is ticked). */
  canConfirm?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const close = () => {
    if (busy) return;
    setError(null);
    props.onClose();
  };
  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      setBusy(false);
      props.onClose();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }
  return (
    <Modal opened={props.opened} onClose={close} title={props.title} centered data-testid={props.testId}>
      <Stack gap="md">
        {props.children}
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        <Group justify="flex-end" gap="sm">
          {/* Focus starts on Cancel: Enter right after opening must not destroy anything. */}
          <Button variant="default" onClick={close} disabled={busy} data-autofocus>
            Cancel
          </Button>
          <Button color={props.color ?? 'red'} loading={busy} disabled={props.canConfirm === false} onClick={confirm}>
            {props.confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
