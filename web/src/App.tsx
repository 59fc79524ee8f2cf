// Sign-in, then the workspace; the session lives in sessionStorage so each tab is its own user
// and a reload keeps it.
import { useState } from 'react';
import type { ConnectionSettings } from './lib/connection';
import { SignIn } from './components/SignIn';
import { Workspace } from './components/Workspace';

const SESSION_KEY = 'switchboard.session';

function loadSession(): ConnectionSettings | null {
  try {
    const text = sessionStorage.getItem(SESSION_KEY);
    return text ? (JSON.parse(text) as ConnectionSettings) : null;
  } catch {
    return null;
  }
}

export function App() {
  const [session, setSession] = useState<ConnectionSettings | null>(loadSession);
  if (!session) {
    return (
      <SignIn
        onSignIn={(settings) => {
          sessionStorage.setItem(SESSION_KEY, JSON.stringify(settings));
          setSession(settings);
        }}
      />
    );
  }
  return (
    <Workspace
      settings={session}
      onSignOut={() => {
        sessionStorage.removeItem(SESSION_KEY);
        setSession(null);
      }}
    />
  );
}
