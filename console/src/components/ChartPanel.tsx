import type { ReactNode } from 'react';
import { Center, Group, Paper, Stack, Text, Title } from '@mantine/core';

/**
 * A titled card for one chart. When `empty` is given it takes the chart's place, at the chart's
 * height, so a chart with nothing to draw says why instead of showing bare axes.
 */
export function ChartPanel({
  title,
  description,
  aside,
  empty,
  height,
  testId,
  children,
}: {
  title: string;
  description: ReactNode;
  aside?: ReactNode;
  empty?: { title: string; description: ReactNode; action?: ReactNode } | null;
  height: number;
  testId: string;
  children: ReactNode;
}) {
  return (
    <Paper withBorder radius="md" p="lg" data-testid={testId} aria-label={title} component="section">
      <Group justify="space-between" align="flex-start" gap="sm" mb="md" wrap="wrap">
        <div style={{ minWidth: 0, flex: '1 1 240px' }}>
          <Title order={2} size="h4" mb={4}>
            {title}
          </Title>
          <Text size="sm" c="dimmed">
            {description}
          </Text>
        </div>
        {aside}
      </Group>
      {empty ? (
        <Center h={height} bg="var(--mantine-color-default-hover)" style={{ borderRadius: 'var(--mantine-radius-md)' }} data-testid={`${testId}-empty`}>
          <Stack align="center" gap={6} maw={480} px="md">
            <Text fw={600} ta="center">
              {empty.title}
            </Text>
            <Text size="sm" c="dimmed" ta="center">
              {empty.description}
            </Text>
            {empty.action}
          </Stack>
        </Center>
      ) : (
        children
      )}
    </Paper>
  );
}
