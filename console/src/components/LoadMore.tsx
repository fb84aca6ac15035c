import { Button, Group } from '@mantine/core';

/** The "next page" button under a paged list. */
export function LoadMore({ loading, onClick, label = 'Load more', testId }: { loading: boolean; onClick: () => void; label?: string; testId: string }) {
  return (
    <Group justify="center" p="sm" style={{ borderTop: '1px solid var(--mantine-color-gray-3)' }}>
      <Button variant="default" loading={loading} onClick={onClick} data-testid={testId}>
        {label}
      </Button>
    </Group>
  );
}
