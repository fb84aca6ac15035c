import { useState, type FormEvent } from 'react';
import { Alert, Anchor, Box, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertCircle } from '@tabler/icons-react';
import { api, ApiError, errorMessage, type Session } from './api';
import { formatWait } from './format';
import { Logo } from './components/Logo';
import { useDocumentTitle } from './components/PageHeader';
import { useFocusFirstInvalid } from './components/focusInvalid';

/** The server's wait (Retry-After, up to the 5-minute window) when it gives one, else its own words. */
function rateLimitedText(err: ApiError): string {
  if (err.retryAfterSeconds === undefined) return err.message;
  return `Too many sign-in attempts. Try again in ${formatWait(err.retryAfterSeconds)}.`;
}

/** Email + password sign-in; POST /api/v1/session. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [emailError, setEmailError] = useState<string | null>(null);
  const [passwordError, setPasswordError] = useState<string | null>(null);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();
  useDocumentTitle('Sign in');

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const trimmed = email.trim();
    const badEmail = !/^[^\s@]+@[^\s@]+$/.test(trimmed);
    setEmailError(badEmail ? 'Enter the email address of your skep account.' : null);
    setPasswordError(password ? null : 'Enter your password.');
    if (badEmail || !password) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    try {
      onSignedIn(await api.signIn(trimmed, password));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('The email or password is not right. Check both and try again.');
      else if (err instanceof ApiError && err.status === 429) setError(rateLimitedText(err));
      else setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md" bg="var(--mantine-color-gray-0)">
      <Box w="100%" maw={400}>
        <Center mb="lg">
          <Logo size="lg" />
        </Center>
        <Paper withBorder shadow="sm" radius="md" p="xl">
          <form onSubmit={submit} noValidate aria-labelledby="signin-title" ref={formRef}>
            <Stack gap="md">
              <div>
                <Title order={2} size="h3" id="signin-title">
                  Sign in to the console
                </Title>
                <Text c="dimmed" size="sm" mt={4}>
                  Manage buckets, objects and API tokens.
                </Text>
              </div>
              {notice && !error && (
                <Alert color="blue" variant="light">
                  {notice}
                </Alert>
              )}
              {error && (
                <Alert color="red" variant="light" icon={<IconAlertCircle size={18} />} role="alert" data-testid="signin-error">
                  {error}
                </Alert>
              )}
              <TextInput
                label="Email"
                type="email"
                name="email"
                autoComplete="username"
                autoFocus
                value={email}
                error={emailError}
                onChange={(e) => setEmail(e.currentTarget.value)}
              />
              <PasswordInput
                label="Password"
                name="password"
                autoComplete="current-password"
                value={password}
                error={passwordError}
                onChange={(e) => {
                  setPassword(e.currentTarget.value);
                  setPasswordError(null);
                }}
              />
              <Button type="submit" loading={busy} fullWidth mt="xs">
                Sign in
              </Button>
              <Text size="xs" c="dimmed" ta="center">
                No account? Ask the operator of this skep server to create one.{' '}
                <Anchor href="/api/v1/openapi.json" size="xs" target="_blank" rel="noreferrer">
                  API reference
                </Anchor>
              </Text>
            </Stack>
          </form>
        </Paper>
      </Box>
    </Center>
  );
}
