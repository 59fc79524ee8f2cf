// A hub connection owned by a component: built on mount, started (and retried until it
// starts), stopped on unmount, with its state, transport and instance as React state.
import { useEffect, useRef, useState } from 'react';
import { HubConnectionState, type HubConnection } from '@microsoft/signalr';
import { buildConnection, type ConnectionSettings } from './connection';

export type HubStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface HubHandle {
  connection: HubConnection | null;
  status: HubStatus;
  /** WebSockets, ServerSentEvents or LongPolling, as the client chose it. */
  transport?: string;
  /** The instance that answered negotiate (X-Switchboard-Instance), when it said. */
  instance?: string;
  error?: string;
}

/** How long a failed first start waits before trying again: the server may still be starting. */
const START_RETRY_MS = 2_000;

/**
 * `setup` registers the handlers once per connection; `onConnected` runs after every start and
 * reconnect (a reconnect is a new connection on the server: groups must be joined again).
 */
export function useHub(
  path: string,
  settings: ConnectionSettings,
  setup: (connection: HubConnection) => void,
  onConnected?: (connection: HubConnection, reconnect: boolean) => void,
): HubHandle {
  const [handle, setHandle] = useState<HubHandle>({ connection: null, status: 'connecting' });
  const callbacks = useRef({ setup, onConnected });
  useEffect(() => {
    callbacks.current = { setup, onConnected };
  });

  const { user, token } = settings.identity;
  const { protocol, transport } = settings;
  useEffect(() => {
    let live = true;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const update = (change: Partial<HubHandle>) => {
      if (live) setHandle((h) => ({ ...h, ...change }));
    };
    const connection = buildConnection(
      path,
      { identity: { user, token }, protocol, transport },
      (instance) => update({ instance }),
      (chosen) => update({ transport: chosen }),
    );
    callbacks.current.setup(connection);
    connection.onreconnecting((error) => update({ status: 'reconnecting', error: error?.message }));
    connection.onreconnected(() => {
      update({ status: 'connected', error: undefined });
      callbacks.current.onConnected?.(connection, true);
    });
    connection.onclose((error) => update({ status: 'disconnected', error: error?.message }));
    const start = async () => {
      try {
        await connection.start();
        if (!live) return;
        update({ status: 'connected', error: undefined });
        callbacks.current.onConnected?.(connection, false);
      } catch (error) {
        if (!live || connection.state !== HubConnectionState.Disconnected) return;
        update({ status: 'disconnected', error: error instanceof Error ? error.message : String(error) });
        retry = setTimeout(() => {
          update({ status: 'connecting' });
          void start();
        }, START_RETRY_MS);
      }
    };
    setHandle({ connection, status: 'connecting' });
    void start();
    return () => {
      live = false;
      clearTimeout(retry);
      void connection.stop();
    };
  }, [path, user, token, protocol, transport]);
  return handle;
}
