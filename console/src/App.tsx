import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { Button, Center, Loader, Stack, Text, Title, Paper } from '@mantine/core';
import { IconFolderPlus } from '@tabler/icons-react';
import { api, errorMessage, type Project, type Session } from './api';
import { useRouter, type Route } from './router';
import { SessionContext, type SessionValue } from './session';
import { SignIn } from './SignIn';
import { CreateProjectModal, Shell } from './Shell';
import { BucketsPage } from './pages/BucketsPage';
import { BucketBrowser } from './pages/BucketBrowser';
import { BucketSettingsPage } from './pages/BucketSettingsPage';
import { TokensPage } from './pages/TokensPage';
import { CreateTokenPage } from './pages/CreateTokenPage';
import { AuditPage } from './pages/AuditPage';
import { SettingsPage } from './pages/SettingsPage';
import { LoadError } from './components/LoadError';
import { Logo } from './components/Logo';
import { useDisclosure } from '@mantine/hooks';

// The usage charts (recharts) are the largest part of the bundle: load them when first shown.
const UsagePage = lazy(() => import('./pages/UsagePage').then((m) => ({ default: m.UsagePage })));

const LAST_PROJECT = 'skep.console.project';

type Phase =
  | { name: 'loading' }
  | { name: 'signed-out'; notice: string | null }
  | { name: 'signed-in'; session: Session; projects: Project[] }
  | { name: 'error'; message: string };

function projectIdOf(route: Route): string | null {
  return 'projectId' in route ? route.projectId : null;
}

export function App() {
  const { route, navigate } = useRouter();
  const [phase, setPhase] = useState<Phase>({ name: 'loading' });

  const loadProjects = useCallback(async (session: Session): Promise<Project[]> => {
    try {
      return (await api.listProjects()).items;
    } catch {
      // The session's own list is enough to get going.
      return session.projects.map((p) => ({ id: p.id, name: p.name, role: p.role, createdAt: '', maxTokenDays: null }));
    }
  }, []);

  const start = useCallback(async () => {
    setPhase({ name: 'loading' });
    try {
      const session = await api.currentSession();
      if (!session) {
        setPhase({ name: 'signed-out', notice: null });
        return;
      }
      setPhase({ name: 'signed-in', session, projects: await loadProjects(session) });
    } catch (err) {
      setPhase({ name: 'error', message: errorMessage(err) });
    }
  }, [loadProjects]);

  useEffect(() => {
    void start();
  }, [start]);

  useEffect(
    () =>
      api.onUnauthenticated(() => {
        api.setCsrfToken(null);
        setPhase({ name: 'signed-out', notice: 'Your session has ended. Sign in again to continue.' });
      }),
    [],
  );

  const signedIn = phase.name === 'signed-in' ? phase : null;
  const wantedProjectId = projectIdOf(route);

  // Pick a project for routes that have none (home, sign-in) once signed in.
  useEffect(() => {
    if (!signedIn || signedIn.projects.length === 0) return;
    if (route.name === 'home' || route.name === 'signin') {
      const last = localStorage.getItem(LAST_PROJECT);
      const p = signedIn.projects.find((x) => x.id === last) ?? signedIn.projects[0];
      navigate({ name: 'buckets', projectId: p.id }, { replace: true });
    }
  }, [signedIn, route, navigate]);

  useEffect(() => {
    if (signedIn && wantedProjectId && signedIn.projects.some((p) => p.id === wantedProjectId)) {
      localStorage.setItem(LAST_PROJECT, wantedProjectId);
    }
  }, [signedIn, wantedProjectId]);

  const refreshProjects = useCallback(async () => {
    if (phase.name !== 'signed-in') return [];
    const projects = await loadProjects(phase.session);
    setPhase({ ...phase, projects });
    return projects;
  }, [phase, loadProjects]);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } finally {
      setPhase({ name: 'signed-out', notice: 'You have signed out.' });
      navigate({ name: 'signin' }, { replace: true });
    }
  }, [navigate]);

  const project = signedIn?.projects.find((p) => p.id === wantedProjectId) ?? null;
  const value = useMemo<SessionValue | null>(
    () => (signedIn && project ? { user: signedIn.session.user, projects: signedIn.projects, project, refreshProjects, signOut } : null),
    [signedIn, project, refreshProjects, signOut],
  );

  if (phase.name === 'loading') {
    return (
      <Center mih="100vh">
        <Loader aria-label="Loading the console" />
      </Center>
    );
  }
  if (phase.name === 'error') {
    return (
      <Center mih="100vh" p="md">
        <Stack maw={480}>
          <Logo size="lg" />
          <LoadError what="the console" message={phase.message} onRetry={() => void start()} />
        </Stack>
      </Center>
    );
  }
  if (phase.name === 'signed-out') {
    return (
      <SignIn
        notice={phase.notice}
        onSignedIn={async (session) => {
          const projects = await loadProjects(session);
          setPhase({ name: 'signed-in', session, projects });
          if (route.name === 'signin') navigate({ name: 'home' }, { replace: true });
        }}
      />
    );
  }
  if (phase.projects.length === 0) {
    return <NoProjects onCreated={async (p) => {
      await refreshProjects();
      navigate({ name: 'buckets', projectId: p.id });
    }} onSignOut={signOut} email={phase.session.user.email} />;
  }
  if (!value) {
    if (route.name === 'home' || route.name === 'signin') {
      return (
        <Center mih="100vh">
          <Loader />
        </Center>
      );
    }
    return <NotFound first={phase.projects[0]} what={wantedProjectId ? 'project' : 'page'} />;
  }
  return (
    <SessionContext.Provider value={value}>
      <Shell>
        <Screen route={route} />
      </Shell>
    </SessionContext.Provider>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'buckets':
      return <BucketsPage />;
    case 'bucket':
      return <BucketBrowser key={route.bucket} bucket={route.bucket} prefix={route.prefix} />;
    case 'bucket-settings':
      return <BucketSettingsPage key={route.bucket} bucket={route.bucket} />;
    case 'tokens':
      return <TokensPage />;
    case 'token-new':
      return <CreateTokenPage />;
    case 'audit':
      return <AuditPage />;
    case 'settings':
      return <SettingsPage />;
    case 'usage':
      return (
        <Suspense fallback={<Center py="xl"><Loader aria-label="Loading usage" /></Center>}>
          <UsagePage />
        </Suspense>
      );
    default:
      return null;
  }
}

function NotFound({ first, what }: { first: Project; what: string }) {
  const { navigate } = useRouter();
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="xl" radius="md" maw={440}>
        <Stack>
          <Logo />
          <Title order={2} size="h3">
            This {what} does not exist
          </Title>
          <Text c="dimmed" size="sm">
            The link may be old, or you may not be a member of that project.
          </Text>
          <Button onClick={() => navigate({ name: 'buckets', projectId: first.id })}>Go to {first.name}</Button>
        </Stack>
      </Paper>
    </Center>
  );
}

function NoProjects({ onCreated, onSignOut, email }: { onCreated: (p: Project) => Promise<void>; onSignOut: () => Promise<void>; email: string }) {
  const [opened, { open, close }] = useDisclosure(false);
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="xl" radius="md" maw={460}>
        <Stack>
          <Logo />
          <Title order={2} size="h3">
            Create your first project
          </Title>
          <Text c="dimmed" size="sm">
            You ({email}) are not a member of any project yet. A project holds buckets and the API tokens that reach them.
          </Text>
          <Button leftSection={<IconFolderPlus size={18} />} onClick={open}>
            New project
          </Button>
          <Button variant="subtle" color="gray" onClick={() => void onSignOut()}>
            Sign out
          </Button>
        </Stack>
      </Paper>
      <CreateProjectModal opened={opened} onClose={close} onCreated={onCreated} />
    </Center>
  );
}
