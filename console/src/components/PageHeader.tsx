import { useContext, useEffect, type ReactNode } from 'react';
import { SessionContext } from '../session';
import { Group, Stack, Text, Title } from '@mantine/core';

/** The browser tab's title: the page, then the app ("Buckets · default · skep"). */
export function useDocumentTitle(...parts: (string | undefined)[]): void {
  const title = [...parts.filter(Boolean), 'skep'].join(' · ');
  useEffect(() => {
    document.title = title;
  }, [title]);
}

/**
 * A screen's title, one line on what it is for, and its main actions on the right. The browser
 * tab shows `documentTitle` (the title itself when it is text).
 */
export function PageHeader({
  title,
  description,
  actions,
  above,
  documentTitle,
}: {
  title: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  above?: ReactNode;
  documentTitle?: string;
}) {
  const session = useContext(SessionContext);
  useDocumentTitle(documentTitle ?? (typeof title === 'string' ? title : undefined), session?.project.name);
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
