import type { ReactNode } from 'react';
import { Group, Stack, Text, Title } from '@mantine/core';

/** A screen's title, one line on what it is for, and its main actions on the right. */
export function PageHeader({ title, description, actions, above }: { title: ReactNode; description?: ReactNode; actions?: ReactNode; above?: ReactNode }) {
  return (
    <Stack gap={6} mb="lg">
      {above}
      <Group justify="space-between" align="flex-end" gap="sm" wrap="wrap">
        <div style={{ minWidth: 0, flex: '1 1 360px' }}>
          <Title order={1} size="h2" style={{ overflowWrap: 'anywhere' }}>
            {title}
          </Title>
          {description && (
            <Text c="dimmed" size="sm" mt={4}>
              {description}
            </Text>
          )}
        </div>
        {actions && <Group gap="sm">{actions}</Group>}
      </Group>
    </Stack>
  );
}
