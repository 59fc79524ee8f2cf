// The signed-in app: one connection per hub (chat, notifications, calls), the panels, the
// toasts, the reconnect banner and the status bar.
import { useCallback, useEffect, useReducer, useRef } from 'react';
import type { HubConnection } from '@microsoft/signalr';
import type { ConnectionSettings } from '../lib/connection';
import { chatReducer, initialChat, type ChatState } from '../lib/chat';
import {
  initialNotifications,
  notificationsReducer,
  type TenantCreated,
  type TenantCreationFailed,
  type TenantProgress,
} from '../lib/notifications';
import { useHub } from '../lib/useHub';
import { Chat } from './Chat';
import { Calls } from './Calls';
import { Events } from './Events';
import { Notifications } from './Notifications';
import { StatusBar } from './StatusBar';
import { Toasts } from './Toasts';

const now = () => Date.now();

export function Workspace({ settings, onSignOut }: { settings: ConnectionSettings; onSignOut: () => void }) {
  const me = settings.identity.user;
  const [chat, dispatch] = useReducer(chatReducer, me, initialChat);
  const [notifications, notify] = useReducer(notificationsReducer, initialNotifications);
  // Stable: a toast's timer restarts whenever its dismiss function changes.
  const dismissToast = useCallback((id: number) => notify({ type: 'dismiss', id }), []);
  const chatRef = useRef<ChatState>(chat);
  useEffect(() => {
    chatRef.current = chat;
  });

  const refreshMembers = useCallback((connection: HubConnection, group: string) => {
    connection
      .invoke<Array<{ connectionId: string; userId: string }>>('GetGroupMembers', group)
      .then((members) => dispatch({ type: 'members', group, users: members.map((m) => m.userId) }))
      .catch(() => {
        // presence off or the group policy forbids listing: the panel shows no members
      });
  }, []);

  const refreshOnline = useCallback((connection: HubConnection) => {
    connection
      .invoke<string[]>('GetOnlineUsers')
      .then((users) => dispatch({ type: 'online', users }))
      .catch(() => {
        // presence off: the panel says so
      });
  }, []);

  const chatHub = useHub(
    '/hubs/chat',
    settings,
    (connection) => {
      connection.on('ReceiveMessage', (from: string, text: string) => dispatch({ type: 'received', from, text, at: now() }));
      connection.on('ReceiveGroupMessage', (group: string, from: string, text: string) =>
        dispatch({ type: 'receivedGroup', group, from, text, at: now() }),
      );
      connection.on('ReceiveDirectMessage', (from: string, text: string) =>
        dispatch({ type: 'receivedDirect', from, text, at: now() }),
      );
      connection.on('UserConnected', (user: string) => dispatch({ type: 'notice', text: `${user} connected`, at: now() }));
      connection.on('UserDisconnected', (user: string) =>
        dispatch({ type: 'notice', text: `${user} disconnected`, at: now() }),
      );
      connection.on('UserOnline', (user: string) => dispatch({ type: 'userOnline', user }));
      connection.on('UserOffline', (user: string) => {
        dispatch({ type: 'userOffline', user });
        for (const group of chatRef.current.groups) refreshMembers(connection, group);
      });
      connection.on('UserJoinedGroup', (user: string, group: string) => {
        dispatch({ type: 'userJoinedGroup', user, group, at: now() });
        refreshMembers(connection, group);
      });
      connection.on('UserLeftGroup', (user: string, group: string) => {
        dispatch({ type: 'userLeftGroup', user, group, at: now() });
        if (chatRef.current.groups.includes(group)) refreshMembers(connection, group);
      });
    },
    (connection, reconnect) => {
      refreshOnline(connection);
      // A reconnect is a new connection on the server: its groups are joined again.
      if (reconnect) {
        for (const group of chatRef.current.groups) {
          connection
            .invoke('JoinGroup', group)
            .catch((error: Error) => dispatch({ type: 'error', text: `Rejoining ${group}: ${error.message}`, at: now() }));
        }
      }
    },
  );

  const notificationsHub = useHub('/hubs/notifications', settings, (connection) => {
    connection.on('TenantProgress', (payload: TenantProgress) => notify({ type: 'progress', payload }));
    connection.on('TenantCreated', (payload: TenantCreated) => notify({ type: 'created', payload }));
    connection.on('TenantCreationFailed', (payload: TenantCreationFailed) => notify({ type: 'failed', payload }));
  });

  const callsHub = useHub('/hubs/calls', settings, () => {});

  const hubs = [chatHub, notificationsHub, callsHub];
  const reconnecting = hubs.some((h) => h.status === 'reconnecting');
  const down = hubs.some((h) => h.status === 'disconnected' && h.error);

  return (
    <div className="workspace">
      <header className="topbar">
        <h1>
          <span className="logo" aria-hidden="true">⇄</span> Switchboard
        </h1>
        <span className="whoami">
          Signed in as <strong data-testid="me">{me}</strong>
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {reconnecting && (
        <div className="banner warning" role="alert" data-testid="reconnect-banner">
          Connection lost — reconnecting to another instance…
        </div>
      )}
      {!reconnecting && down && (
        <div className="banner error" role="alert">
          Disconnected: {hubs.find((h) => h.error)?.error}
        </div>
      )}
      <main className="panels">
        <Chat state={chat} dispatch={dispatch} connection={chatHub.connection} connected={chatHub.status === 'connected'} />
        <aside className="side">
          <Notifications
            state={notifications}
            notify={notify}
            me={me}
            connected={notificationsHub.status === 'connected'}
          />
          <Calls me={me} online={chat.online} connection={callsHub.connection} connected={callsHub.status === 'connected'} />
          <Events />
        </aside>
      </main>
      <Toasts toasts={notifications.toasts} dismiss={dismissToast} />
      <StatusBar hub={chatHub} protocol={settings.protocol} />
    </div>
  );
}
