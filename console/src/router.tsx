// A small client-side router over the History API. Every console URL lives under /console/;
// the server answers any of them with index.html, so deep links and reloads work.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode, type MouseEvent } from 'react';

export const BASE = '/console';

export type Route =
  | { name: 'signin' }
  | { name: 'home' }
  | { name: 'buckets'; projectId: string }
  | { name: 'bucket'; projectId: string; bucket: string; prefix: string }
  | { name: 'bucket-settings'; projectId: string; bucket: string }
  | { name: 'tokens'; projectId: string }
  | { name: 'token-new'; projectId: string }
  | { name: 'usage'; projectId: string }
  | { name: 'audit'; projectId: string }
  | { name: 'settings'; projectId: string }
  | { name: 'not-found'; path: string };

const seg = (s: string) => encodeURIComponent(s);

/** The URL of a route (what links and navigate() use). */
export function hrefOf(r: Route): string {
  switch (r.name) {
    case 'signin':
      return `${BASE}/signin`;
    case 'home':
      return `${BASE}/`;
    case 'buckets':
      return `${BASE}/projects/${seg(r.projectId)}/buckets`;
    case 'bucket': {
      const q = r.prefix ? `?prefix=${seg(r.prefix)}` : '';
      return `${BASE}/projects/${seg(r.projectId)}/buckets/${seg(r.bucket)}${q}`;
    }
    case 'bucket-settings':
      return `${BASE}/projects/${seg(r.projectId)}/buckets/${seg(r.bucket)}/settings`;
    case 'tokens':
      return `${BASE}/projects/${seg(r.projectId)}/tokens`;
    case 'token-new':
      return `${BASE}/projects/${seg(r.projectId)}/tokens/new`;
    case 'usage':
    case 'audit':
    case 'settings':
      return `${BASE}/projects/${seg(r.projectId)}/${r.name}`;
    case 'not-found':
      return r.path;
  }
}

/** Parses a location into a route. */
export function parseRoute(pathname: string, search: string): Route {
  let path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  path = path.replace(/\/+$/, '');
  if (path === '' || path === '/') return { name: 'home' };
  if (path === '/signin') return { name: 'signin' };
  const parts = path.split('/').slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (parts[0] === 'projects' && parts[1]) {
    const projectId = parts[1];
    const rest = parts.slice(2);
    if (rest.length === 0 || (rest.length === 1 && rest[0] === 'buckets')) return { name: 'buckets', projectId };
    if (rest[0] === 'buckets' && rest.length === 2) {
      const prefix = new URLSearchParams(search).get('prefix') ?? '';
      return { name: 'bucket', projectId, bucket: rest[1], prefix };
    }
    if (rest[0] === 'buckets' && rest.length === 3 && rest[2] === 'settings') return { name: 'bucket-settings', projectId, bucket: rest[1] };
    if (rest[0] === 'tokens' && rest.length === 1) return { name: 'tokens', projectId };
    if (rest[0] === 'tokens' && rest[1] === 'new' && rest.length === 2) return { name: 'token-new', projectId };
    if (rest.length === 1 && (rest[0] === 'usage' || rest[0] === 'audit' || rest[0] === 'settings')) return { name: rest[0], projectId };
  }
  return { name: 'not-found', path: pathname };
}

interface RouterValue {
  route: Route;
  navigate(to: Route, opts?: { replace?: boolean }): void;
}

const RouterContext = createContext<RouterValue | null>(null);

export function RouterProvider({ children }: { children: ReactNode }) {
  const [loc, setLoc] = useState(() => ({ pathname: window.location.pathname, search: window.location.search }));
  useEffect(() => {
    const onPop = () => setLoc({ pathname: window.location.pathname, search: window.location.search });
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: Route, opts: { replace?: boolean } = {}) => {
    const href = hrefOf(to);
    if (href === window.location.pathname + window.location.search) return;
    if (opts.replace) window.history.replaceState(null, '', href);
    else window.history.pushState(null, '', href);
    const u = new URL(href, window.location.origin);
    setLoc({ pathname: u.pathname, search: u.search });
    window.scrollTo(0, 0);
  }, []);
  const value = useMemo(() => ({ route: parseRoute(loc.pathname, loc.search), navigate }), [loc, navigate]);
  return <RouterContext.Provider value={value}>{children}</RouterContext.Provider>;
}

export function useRouter(): RouterValue {
  const v = useContext(RouterContext);
  if (!v) throw new Error('useRouter outside RouterProvider');
  return v;
}

/**
 * Props for an anchor (or a Mantine component rendered as one) that navigates without a reload,
 * while keeping a real href so middle-click, "open in new tab" and screen readers work.
 */
export function useLinkProps(to: Route): { href: string; onClick: (e: MouseEvent<HTMLElement>) => void } {
  const { navigate } = useRouter();
  const href = hrefOf(to);
  return {
    href,
    onClick: (e: MouseEvent<HTMLElement>) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(to);
    },
  };
}
