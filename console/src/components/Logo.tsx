import { Group, Text, ThemeIcon } from '@mantine/core';
import { IconDatabase } from '@tabler/icons-react';

export function Logo({ size = 'md' }: { size?: 'md' | 'lg' }) {
  const big = size === 'lg';
  return (
    <Group gap={8} wrap="nowrap">
      <ThemeIcon size={big ? 36 : 28} radius="md" variant="filled" aria-hidden>
        <IconDatabase size={big ? 22 : 18} />
      </ThemeIcon>
      <Text fw={700} fz={big ? 24 : 18} lh={1}>
        skep
      </Text>
    </Group>
  );
}
