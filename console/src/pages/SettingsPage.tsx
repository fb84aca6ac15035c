import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ActionIcon, Alert, Badge, Button, Group, NumberInput, PasswordInput, Select, Stack, Switch, Table, Text, TextInput, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconTrash, IconUserPlus } from '@tabler/icons-react';
import { api, ApiError, errorMessage, type Member } from '../api';
import { PageHeader } from '../components/PageHeader';
import { LoadError } from '../components/LoadError';
import { ConfirmModal } from '../components/ConfirmModal';
import { useFocusFirstInvalid } from '../components/focusInvalid';
import { Section } from '../components/Section';
import { useSession } from '../session';
import { QuotaForm } from '../components/QuotaForm';

// Account and project settings: the signed-in user's password; the project's name, maximum token
// lifetime and members (owners change them; members see them).

const MAX_DAYS = 365;

/** A failed request's error: on the field the API named, when the form has it, else for the form. */
function fieldErrors(err: unknown, fields: readonly string[]): Record<string, string> {
  if (err instanceof ApiError && err.field && fields.includes(err.field)) return { [err.field]: err.message };
  return { form: errorMessage(err) };
}

export function SettingsPage() {
  const { project } = useSession();
  const owner = project.role === 'owner';
  return (
    <>
      <PageHeader title="Settings" description={`Your account, and project ${project.name}: its name, token lifetime and members.`} />
      <Stack gap="lg">
        <ProjectSection owner={owner} />
        <QuotaSection owner={owner} />
        <MembersSection owner={owner} />
        <AccountSection />
      </Stack>
    </>
  );
}

function QuotaSection({ owner }: { owner: boolean }) {
  const { project } = useSession();
  const load = useCallback(() => api.projectQuota(project.id), [project.id]);
  const save = useCallback((q: Parameters<typeof api.setProjectQuota>[1]) => api.setProjectQuota(project.id, q), [project.id]);
  return (
    <Section
      title="Storage quota"
      description={
        owner
          ? 'The most the whole project may store, over all its buckets. Writes past it are refused (S3 QuotaExceeded); nothing partial is kept.'
          : 'The most the whole project may store. Owners change it.'
      }
    >
      <QuotaForm load={load} save={owner ? save : undefined} testId="project-quota" />
    </Section>
  );
}

function ProjectSection({ owner }: { owner: boolean }) {
  const { project, refreshProjects } = useSession();
  const [name, setName] = useState(project.name);
  const [limited, setLimited] = useState(project.maxTokenDays !== null);
  const [days, setDays] = useState<number | string>(project.maxTokenDays ?? 90);
  const [errors, setErrors] = useState<{ name?: string; maxTokenDays?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();

  useEffect(() => {
    setName(project.name);
    setLimited(project.maxTokenDays !== null);
    setDays(project.maxTokenDays ?? 90);
  }, [project.id, project.name, project.maxTokenDays]);

  async function save(e: FormEvent) {
    e.preventDefault();
    const n = name.trim();
    const d = typeof days === 'number' ? days : Number.parseInt(days, 10);
    const found: typeof errors = {};
    if (!n) found.name = 'Give the project a name.';
    if (limited && (!Number.isInteger(d) || d < 1 || d > MAX_DAYS)) found.maxTokenDays = `Enter a whole number of days from 1 to ${MAX_DAYS}.`;
    setErrors(found);
    if (found.name || found.maxTokenDays) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    try {
      await api.updateProject(project.id, { name: n, maxTokenDays: limited ? d : null });
      await refreshProjects();
      notifications.show({ color: 'teal', message: 'Project settings saved.' });
    } catch (err) {
      setErrors(fieldErrors(err, ['name', 'maxTokenDays']));
      focusFirstInvalid();
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section
      title="Project"
      testId="project-settings"
      description={owner ? 'Lowering the maximum token lifetime also shortens existing tokens (counted from their creation).' : 'Owners of the project change these.'}
    >
      <form onSubmit={save} noValidate ref={formRef} aria-label="Project settings">
        <Stack gap="md" maw={520}>
          <TextInput label="Project name" value={name} maxLength={100} disabled={!owner} error={errors.name} onChange={(e) => setName(e.currentTarget.value)} data-testid="project-name" />
          <Switch
            label="Limit how long tokens last"
            description={limited ? undefined : `Tokens may last up to ${MAX_DAYS} days.`}
            checked={limited}
            disabled={!owner}
            onChange={(e) => setLimited(e.currentTarget.checked)}
            data-testid="project-limit"
          />
          {limited && (
            <NumberInput
              label="Maximum token lifetime (days)"
              min={1}
              max={MAX_DAYS}
              allowDecimal={false}
              allowNegative={false}
              clampBehavior="none"
              value={days}
              onChange={setDays}
              disabled={!owner}
              error={errors.maxTokenDays}
              w={280}
              data-testid="project-max-days"
            />
          )}
          {errors.form && (
            <Alert color="red" variant="light" role="alert">
              {errors.form}
            </Alert>
          )}
          {owner && (
            <Group>
              <Button type="submit" loading={busy} data-testid="project-save">
                Save project settings
              </Button>
            </Group>
          )}
        </Stack>
      </form>
    </Section>
  );
}

type MembersLoad = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; items: Member[] };

function MembersSection({ owner }: { owner: boolean }) {
  const { project, user } = useSession();
  const [load, setLoad] = useState<MembersLoad>({ state: 'loading' });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Member['role']>('member');
  const [addError, setAddError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();

  const reload = useCallback(async () => {
    try {
      setLoad({ state: 'ready', items: (await api.listMembers(project.id)).items });
    } catch (err) {
      setLoad({ state: 'error', message: errorMessage(err) });
    }
  }, [project.id]);
  useEffect(() => {
    setLoad({ state: 'loading' });
    void reload();
  }, [reload]);

  async function add(e: FormEvent) {
    e.preventDefault();
    if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) {
      setAddError('Enter the email address of a console user.');
      focusFirstInvalid();
      return;
    }
    setAdding(true);
    setAddError(null);
    try {
      const m = await api.addMember(project.id, email.trim(), role);
      notifications.show({ color: 'teal', message: `${m.email} is now ${m.role === 'owner' ? 'an owner' : 'a member'} of ${project.name}.` });
      setEmail('');
      await reload();
    } catch (err) {
      setAddError(errorMessage(err));
      focusFirstInvalid();
    } finally {
      setAdding(false);
    }
  }

  async function changeRole(m: Member, next: Member['role']) {
    try {
      await api.setMemberRole(project.id, m.userId, next);
      notifications.show({ color: 'teal', message: `${m.email} is now ${next === 'owner' ? 'an owner' : 'a member'}.` });
    } catch (err) {
      notifications.show({ color: 'red', title: 'The role did not change', message: errorMessage(err) });
    }
    await reload();
  }

  return (
    <Section
      title="Members"
      testId="members"
      description="Console users with access to this project. Owners manage buckets, tokens, settings and members; members work with objects and make object-level tokens."
    >
      {load.state === 'loading' && <Text size="sm" c="dimmed">Loading members…</Text>}
      {load.state === 'error' && <LoadError what="members" message={load.message} onRetry={reload} />}
      {load.state === 'ready' && (
        <Table.ScrollContainer type="native" minWidth={300}>
          <Table verticalSpacing="xs" horizontalSpacing="xs" data-testid="members-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th w={120}>Role</Table.Th>
                <Table.Th w={48} aria-label="Actions" />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {load.items.map((m) => (
                <Table.Tr key={m.userId} data-testid="member-row" data-email={m.email}>
                  <Table.Td style={{ overflowWrap: 'anywhere' }}>
                    <Text size="sm">
                      {m.email}{' '}
                      {m.email === user.email && (
                        <Badge size="xs" variant="light" color="gray" radius="sm" tt="none">
                          you
                        </Badge>
                      )}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {owner ? (
                      <Select
                        size="xs"
                        data={[
                          { value: 'owner', label: 'Owner' },
                          { value: 'member', label: 'Member' },
                        ]}
                        value={m.role}
                        allowDeselect={false}
                        onChange={(v) => v && v !== m.role && void changeRole(m, v as Member['role'])}
                        aria-label={`Role of ${m.email}`}
                        w={104}
                      />
                    ) : (
                      <Text size="sm">{m.role === 'owner' ? 'Owner' : 'Member'}</Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {owner && (
                      <Tooltip label="Remove from project" withArrow>
                        <ActionIcon variant="subtle" color="red" onClick={() => setRemoving(m)} aria-label={`Remove ${m.email}`}>
                          <IconTrash size={16} />
                        </ActionIcon>
                      </Tooltip>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {owner && (
        <form onSubmit={add} noValidate ref={formRef} aria-label="Add a member">
          <Group align="flex-start" mt="md" gap="sm">
            <TextInput
              label="Add a console user by email"
              description="They need an account: an operator creates one with skep user create."
              placeholder="name@example.com"
              value={email}
              onChange={(e) => {
                setEmail(e.currentTarget.value);
                setAddError(null);
              }}
              error={addError}
              style={{ flex: '1 1 260px' }}
              data-testid="member-email"
            />
            <Select
              label="Role"
              data={[
                { value: 'member', label: 'Member' },
                { value: 'owner', label: 'Owner' },
              ]}
              value={role}
              allowDeselect={false}
              onChange={(v) => v && setRole(v as Member['role'])}
              w={130}
              data-testid="member-role"
            />
            <Button type="submit" loading={adding} leftSection={<IconUserPlus size={16} />} mt={{ base: 0, xs: 46 }} data-testid="member-add">
              Add
            </Button>
          </Group>
        </form>
      )}
      {removing && (
        <ConfirmModal
          opened
          title={`Remove ${removing.email}?`}
          confirmLabel="Remove member"
          testId="remove-member-modal"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.removeMember(project.id, removing.userId);
            notifications.show({ color: 'teal', message: `${removing.email} removed from ${project.name}.` });
            await reload();
          }}
        >
          <Text size="sm">They lose access to this project in the console. Tokens they made keep working until revoked.</Text>
        </ConfirmModal>
      )}
    </Section>
  );
}

function AccountSection() {
  const { user } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [errors, setErrors] = useState<{ currentPassword?: string; newPassword?: string; again?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const { formRef, focusFirstInvalid } = useFocusFirstInvalid();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found: typeof errors = {};
    if (!current) found.currentPassword = 'Enter your current password.';
    if (next.length < 8) found.newPassword = 'A password has at least 8 characters.';
    else if (next !== again) found.again = 'The two new passwords differ.';
    setErrors(found);
    if (Object.keys(found).length) {
      focusFirstInvalid();
      return;
    }
    setBusy(true);
    try {
      await api.changePassword(current, next);
      setCurrent('');
      setNext('');
      setAgain('');
      notifications.show({ color: 'teal', message: 'Password changed. Your other sessions were signed out.' });
    } catch (err) {
      setErrors(fieldErrors(err, ['currentPassword', 'newPassword']));
      focusFirstInvalid();
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="Your account" testId="account" description={<>Signed in as <b>{user.email}</b>.</>}>
      <form onSubmit={submit} noValidate ref={formRef} aria-label="Change password">
        <Stack gap="md" maw={420}>
          <PasswordInput label="Current password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.currentTarget.value)} error={errors.currentPassword} data-testid="password-current" />
          <PasswordInput label="New password" description="At least 8 characters." autoComplete="new-password" value={next} onChange={(e) => setNext(e.currentTarget.value)} error={errors.newPassword} data-testid="password-new" />
          <PasswordInput label="New password again" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.currentTarget.value)} error={errors.again} data-testid="password-again" />
          {errors.form && (
            <Alert color="red" variant="light" role="alert">
              {errors.form}
            </Alert>
          )}
          <Group>
            <Button type="submit" loading={busy} data-testid="password-save">
              Change password
            </Button>
          </Group>
        </Stack>
      </form>
    </Section>
  );
}
