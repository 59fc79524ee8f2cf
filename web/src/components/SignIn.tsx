// Sign-in: a user name (development mode: the server takes ?user=) or a JWT (from
// `switchboard token` or your identity provider), and the protocol and transport to use.
import { useState, type FormEvent } from 'react';
import { userOfToken, type ConnectionSettings, type Protocol, type TransportChoice } from '../lib/connection';

export function SignIn({ onSignIn }: { onSignIn: (settings: ConnectionSettings) => void }) {
  const [user, setUser] = useState('');
  const [token, setToken] = useState('');
  const [protocol, setProtocol] = useState<Protocol>('json');
  const [transport, setTransport] = useState<TransportChoice>('auto');
  const [error, setError] = useState('');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmedToken = token.trim();
    if (trimmedToken) {
      const subject = userOfToken(trimmedToken);
      if (!subject) return setError('That token names no user (sub).');
      return onSignIn({ identity: { user: subject, token: trimmedToken }, protocol, transport });
    }
    const name = user.trim();
    if (!name) return setError('Enter a user name, or paste a token.');
    onSignIn({ identity: { user: name }, protocol, transport });
  };

  return (
    <main className="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <span className="logo" aria-hidden="true">⇄</span> Switchboard
        </h1>
        <p className="muted">
          Chat, direct messages, groups, presence, notifications, calls and live events over one SignalR-compatible
          server. Open a second tab as another user.
        </p>
        <label htmlFor="user">User name</label>
        <input
          id="user"
          autoComplete="username"
          maxLength={64}
          value={user}
          onChange={(e) => setUser(e.target.value)}
          placeholder="alice"
          autoFocus
        />
        <details>
          <summary>Sign in with a token instead</summary>
          <label htmlFor="token">JWT (servers started with --jwt-secret)</label>
          <textarea id="token" rows={3} value={token} onChange={(e) => setToken(e.target.value)} spellCheck={false} />
          <p className="muted small">
            <code>build/switchboard token --user alice --jwt-secret …</code> prints one.
          </p>
        </details>
        <div className="row">
          <div>
            <label htmlFor="protocol">Protocol</label>
            <select id="protocol" value={protocol} onChange={(e) => setProtocol(e.target.value as Protocol)}>
              <option value="json">JSON</option>
              <option value="messagepack">MessagePack</option>
            </select>
          </div>
          <div>
            <label htmlFor="transport">Transport</label>
            <select id="transport" value={transport} onChange={(e) => setTransport(e.target.value as TransportChoice)}>
              <option value="auto">Best available</option>
              <option value="websockets">WebSockets</option>
              <option value="sse">Server-Sent Events</option>
              <option value="longpolling">Long polling</option>
            </select>
          </div>
        </div>
        {error && (
          <p role="alert" className="error-text">
            {error}
          </p>
        )}
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
