import { useState, type ReactNode, type FormEvent } from 'react';
import {
  AppShell,
  Avatar,
  Burger,
  Button,
  Group,
  Menu,
  Modal,
  NavLink,
  ScrollArea,
  Stack,
  Text,
  TextInput,
  UnstyledButton,
  Alert,
} from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconBucket, IconCheck, IconChartBar, IconChevronDown, IconKey, IconLogout, IconPlus, IconFolders, IconHistory, IconSettings } from '@tabler/icons-react';
import { api, errorMessage, type Project } from './api';
import { Logo } from './components/Logo';
import { useLinkProps, useRouter, type Route } from './router';
import { useSession } from './session';

type Section = 'buckets' | 'usage' | 'tokens' | 'audit' | 'settings';

export function sectionOf(route: Route): Section | null {
  switch (route.name) {
    case 'buckets':
    case 'bucket':
    case 'bucket-settings':
      return 'buckets';
    case 'tokens':
    case 'token-new':
      return 'tokens';
    case 'usage':
    case 'audit':
    case 'settings':
      return route.name;
    default:
      return null;
  }
}

/** Header (project switcher, user menu) + sidebar (Buckets, Usage, Tools: API Tokens) + content. */
export function Shell({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure(false);
  const { route } = useRouter();
  const { project } = useSession();
  const section = sectionOf(route);
  // Below the sm breakpoint the sidebar slides away; while away it must not take keyboard focus.
  const mobile = useMediaQuery('(max-width: 48em)') ?? false;

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 232, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="lg"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={opened ? 'Close navigation' : 'Open navigation'} />
            <HomeLink />
            <Text c="dimmed" visibleFrom="xs" aria-hidden>
              /
            </Text>
            <ProjectSwitcher />
          </Group>
          <UserMenu />
        </Group>
      </AppShell.Header>

      <AppShell.Navbar p="sm" aria-label="Main" inert={mobile && !opened}>
        <AppShell.Section grow component={ScrollArea}>
          <Stack gap={2}>
            <NavItem to={{ name: 'buckets', projectId: project.id }} label="Buckets" icon={<IconBucket size={18} />} active={section === 'buckets'} onNavigate={close} />
            <NavItem to={{ name: 'usage', projectId: project.id }} label="Usage" icon={<IconChartBar size={18} />} active={section === 'usage'} onNavigate={close} />
            <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" mt="lg" mb={4} id="nav-tools">
              Tools
            </Text>
            <NavItem to={{ name: 'tokens', projectId: project.id }} label="API Tokens" icon={<IconKey size={18} />} active={section === 'tokens'} onNavigate={close} />
            <NavItem to={{ name: 'audit', projectId: project.id }} label="Audit log" icon={<IconHistory size={18} />} active={section === 'audit'} onNavigate={close} />
            <NavItem to={{ name: 'settings', projectId: project.id }} label="Settings" icon={<IconSettings size={18} />} active={section === 'settings'} onNavigate={close} />
          </Stack>
        </AppShell.Section>
        <AppShell.Section>
          <Text size="xs" c="dimmed" px="sm" pb={4}>
            S3 endpoint: <code data-testid="s3-endpoint">{project.s3Endpoint ?? window.location.origin}</code>
          </Text>
        </AppShell.Section>
      </AppShell.Navbar>

      <AppShell.Main bg="var(--mantine-color-gray-0)">
        <div style={{ maxWidth: 1200, margin: '0 auto' }}>{children}</div>
      </AppShell.Main>
    </AppShell>
  );
}

function HomeLink() {
  const { project } = useSession();
  const link = useLinkProps({ name: 'buckets', projectId: project.id });
  return (
    <UnstyledButton component="a" {...link} aria-label="skep console home">
      <Logo />
    </UnstyledButton>
  );
}

function NavItem({ to, label, icon, active, onNavigate }: { to: Route; label: string; icon: ReactNode; active: boolean; onNavigate: () => void }) {
  const link = useLinkProps(to);
  return (
    <NavLink
      component="a"
      href={link.href}
      onClick={(e) => {
        link.onClick(e);
        onNavigate();
      }}
      label={label}
      leftSection={icon}
      active={active}
      aria-current={active ? 'page' : undefined}
      style={{ borderRadius: 'var(--mantine-radius-sm)' }}
    />
  );
}

function ProjectSwitcher() {
  const { project, projects, refreshProjects } = useSession();
  const { route, navigate } = useRouter();
  const [creating, { open, close }] = useDisclosure(false);

  function switchTo(p: Project) {
    const section = sectionOf(route) ?? 'buckets';
    navigate({ name: section, projectId: p.id });
  }

  return (
    <>
      <Menu position="bottom-start" width={260} shadow="md">
        <Menu.Target>
          <Button variant="subtle" color="gray" rightSection={<IconChevronDown size={14} />} leftSection={<IconFolders size={16} />} aria-label={`Project: ${project.name}. Switch project`} data-testid="project-switcher" px="xs" styles={{ label: { maxWidth: 220, overflow: 'hidden', textOverflow: 'ellipsis' } }}>
            {project.name}
          </Button>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Label>Projects</Menu.Label>
          {projects.map((p) => (
            <Menu.Item key={p.id} onClick={() => switchTo(p)} rightSection={p.id === project.id ? <IconCheck size={14} /> : null}>
              <Text size="sm" truncate>
                {p.name}
              </Text>
            </Menu.Item>
          ))}
          <Menu.Divider />
          <Menu.Item leftSection={<IconPlus size={14} />} onClick={open}>
            New project…
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      <CreateProjectModal
        opened={creating}
        onClose={close}
        onCreated={async (p) => {
          await refreshProjects();
          navigate({ name: 'buckets', projectId: p.id });
        }}
      />
    </>
  );
}

export function CreateProjectModal({ opened, onClose, onCreated }: { opened: boolean; onClose: () => void; onCreated: (p: Project) => Promise<void> | void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    const n = name.trim();
    if (!n) {
      setError('Give the project a name.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const p = await api.createProject(n);
      notifications.show({ color: 'teal', message: `Project "${p.name}" created.` });
      setName('');
      onClose();
      await onCreated(p);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal opened={opened} onClose={onClose} title="New project" centered>
      <form onSubmit={submit}>
        <Stack>
          <Text size="sm" c="dimmed">
            A project holds its own buckets, API tokens and usage. You become its owner.
          </Text>
          <TextInput label="Project name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={error} data-autofocus maxLength={100} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              Create project
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function UserMenu() {
  const { user, signOut } = useSession();
  const initials = user.email.slice(0, 2).toUpperCase();
  const [failed, setFailed] = useState<string | null>(null);
  return (
    <>
      <Menu position="bottom-end" width={240} shadow="md">
        <Menu.Target>
          <UnstyledButton aria-label={`Account: ${user.email}`} data-testid="user-menu" style={{ borderRadius: 999 }}>
            <Group gap={8} wrap="nowrap">
              <Text size="sm" visibleFrom="sm" c="dimmed">
                {user.email}
              </Text>
              <Avatar radius="xl" size={32} color="blue">
                {initials}
              </Avatar>
            </Group>
          </UnstyledButton>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Label>Signed in as</Menu.Label>
          <Text size="sm" px="sm" pb="xs" truncate>
            {user.email}
          </Text>
          <Menu.Divider />
          <Menu.Item
            leftSection={<IconLogout size={14} />}
            onClick={() => signOut().catch((err) => setFailed(errorMessage(err)))}
            data-testid="sign-out"
          >
            Sign out
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      {failed && (
        <Alert color="red" withCloseButton onClose={() => setFailed(null)} pos="fixed" bottom={16} right={16}>
          Sign out failed: {failed}
        </Alert>
      )}
    </>
  );
}
