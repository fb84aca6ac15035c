// Who is signed in and which projects they can see, for every screen below the app shell.

import { createContext, useContext } from 'react';
import type { Project, User } from './api';

export interface SessionValue {
  user: User;
  projects: Project[];
  /** The project the current screen is about (from the URL). */
  project: Project;
  refreshProjects(): Promise<Project[]>;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside a signed-in screen');
  return v;
}
