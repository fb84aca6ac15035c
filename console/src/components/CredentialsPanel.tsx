import { ActionIcon, Alert, Code, CopyButton, Paper, ScrollArea, SimpleGrid, Stack, Tabs, Text, Tooltip } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy } from '@tabler/icons-react';
import type { IssuedTemporary, IssuedToken, Snippets } from '../api';
import { formatDateTime } from '../format';
import { CopyField } from './CopyField';

const SNIPPET_TABS: { value: keyof Snippets; label: string }[] = [
  { value: 'awsCli', label: 'AWS CLI' },
  { value: 'rclone', label: 'rclone' },
  { value: 'boto3', label: 'boto3 (Python)' },
  { value: 'jsSdk', label: 'JavaScript SDK' },
];

/** The secrets of a newly created (or rotated) token, with copy buttons and client snippets. */
export function CredentialsPanel({ issued, rotated = false }: { issued: IssuedToken; rotated?: boolean }) {
  const { credentials, endpoint, region, snippets } = issued;
  return (
    <Stack gap="lg" data-testid="credentials">
      <Alert color="orange" variant="light" icon={<IconAlertTriangle size={20} />} title="Copy the secret access key and bearer token now" data-testid="secret-warning">
        They are shown only this once. skep keeps only a hash of the bearer token and an encrypted copy of the secret, and cannot show
        them again. {rotated ? 'The previous secret keeps working until you confirm the rotation or its grace period ends.' : 'If you lose them, rotate the token to get new ones.'}
      </Alert>

      <Paper withBorder radius="md" p="lg">
        <Stack gap="md">
          <div>
            <Text fw={600}>S3 credentials</Text>
            <Text size="sm" c="dimmed">
              For S3 clients (AWS CLI, SDKs, rclone…). Use path-style addressing and region <Code>{region}</Code>.
            </Text>
          </div>
          <SimpleGrid cols={{ base: 1, md: 2 }} spacing="md">
            <CopyField label="Access key ID" value={credentials.accessKeyId} testId="cred-access-key-id" />
            <CopyField label="Secret access key" value={credentials.secretAccessKey} testId="cred-secret-access-key" />
          </SimpleGrid>
          <CopyField label="S3 endpoint" value={endpoint} testId="cred-endpoint" />
        </Stack>
      </Paper>

      <Paper withBorder radius="md" p="lg">
        <Stack gap="md">
          <div>
            <Text fw={600}>Bearer token</Text>
            <Text size="sm" c="dimmed">
              For the REST API: send it as <Code>Authorization: Bearer …</Code> to <Code>{window.location.origin}/api/v1</Code>.
            </Text>
          </div>
          <CopyField label="Token value" value={credentials.bearerToken} testId="cred-bearer-token" />
        </Stack>
      </Paper>

      <SnippetTabs snippets={snippets} />
    </Stack>
  );
}

/** The client snippets of a credential, one tab per client. */
function SnippetTabs({ snippets }: { snippets: Snippets }) {
  return (
    <Paper withBorder radius="md" p="lg">
      <Text fw={600} mb={4}>
        Use it from a client
      </Text>
      <Text size="sm" c="dimmed" mb="sm">
        Ready to paste, with these credentials filled in.
      </Text>
      <Tabs defaultValue="awsCli" keepMounted={false}>
        <Tabs.List>
          {SNIPPET_TABS.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {SNIPPET_TABS.map((t) => (
          <Tabs.Panel key={t.value} value={t.value} pt="sm">
            <Snippet text={snippets[t.value]} label={t.label} testId={`snippet-${t.value}`} />
          </Tabs.Panel>
        ))}
      </Tabs>
    </Paper>
  );
}

/** The secrets of new temporary credentials: key, secret and session token, shown once, with snippets. */
export function TemporaryCredentialsPanel({ issued }: { issued: IssuedTemporary }) {
  const { credentials, endpoint, region, snippets } = issued;
  return (
    <Stack gap="lg" data-testid="temporary-credentials">
      <Alert color="orange" variant="light" icon={<IconAlertTriangle size={20} />} title="Copy the secret and the session token now" data-testid="secret-warning">
        They are shown only this once. Every request must send the session token (SDKs do, as x-amz-security-token). They stop working at{' '}
        {formatDateTime(credentials.expiration)}, or as soon as their token is disabled or revoked.
      </Alert>
      <Paper withBorder radius="md" p="lg">
        <Stack gap="md">
          <Text size="sm" c="dimmed">
            Path-style addressing, region <Code>{region}</Code>.
          </Text>
          <SimpleGrid cols={{ base: 1, md: 2 }} spacing="md">
            <CopyField label="Access key ID" value={credentials.accessKeyId} testId="temp-access-key-id" />
            <CopyField label="Secret access key" value={credentials.secretAccessKey} testId="temp-secret-access-key" />
          </SimpleGrid>
          <CopyField label="Session token" value={credentials.sessionToken} testId="temp-session-token" />
          <CopyField label="S3 endpoint" value={endpoint} testId="temp-endpoint" />
        </Stack>
      </Paper>
      <SnippetTabs snippets={snippets} />
    </Stack>
  );
}

function Snippet({ text, label, testId }: { text: string; label: string; testId: string }) {
  return (
    <div style={{ position: 'relative' }}>
      <ScrollArea type="auto" offsetScrollbars>
        <Code block data-testid={testId} style={{ fontSize: 13, lineHeight: 1.55, paddingRight: 48 }}>
          {text}
        </Code>
      </ScrollArea>
      <CopyButton value={text} timeout={2000}>
        {({ copied, copy }) => (
          <Tooltip label={copied ? 'Copied' : `Copy ${label} snippet`} withArrow position="left">
            <ActionIcon
              onClick={copy}
              variant="default"
              aria-label={`Copy ${label} snippet`}
              style={{ position: 'absolute', top: 8, right: 8 }}
              color={copied ? 'teal' : undefined}
            >
              {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
            </ActionIcon>
          </Tooltip>
        )}
      </CopyButton>
    </div>
  );
}
