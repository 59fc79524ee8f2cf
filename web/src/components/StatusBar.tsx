// The status bar: connection state, transport, protocol, the instance that serves the
// connection and the round-trip time of a hub call.
import { useEffect, useState } from 'react';
import type { Protocol } from '../lib/connection';
import type { HubHandle } from '../lib/useHub';

/** How often the round trip is measured: often enough to watch, cheap for the server. */
const RTT_EVERY_MS = 5_000;

/** One round trip: the chat hub's Counter stream with no items completes at once. */
function measure(hub: HubHandle): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (!hub.connection) return reject(new Error('no connection'));
    hub.connection.stream<number>('Counter', 0).subscribe({
      next: () => {},
      error: reject,
      complete: () => resolve(performance.now() - started),
    });
  });
}

export function StatusBar({ hub, protocol }: { hub: HubHandle; protocol: Protocol }) {
  const [rtt, setRtt] = useState<number>();
  const connected = hub.status === 'connected';
  useEffect(() => {
    if (!connected) return;
    let live = true;
    const tick = () => {
      measure(hub)
        .then((ms) => live && setRtt(ms))
        .catch(() => live && setRtt(undefined));
    };
    tick();
    const timer = setInterval(tick, RTT_EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [connected, hub]);

  return (
    <footer className="statusbar" aria-label="Connection status">
      <span className={`state ${hub.status}`} data-testid="status" data-state={hub.status} role="status">
        <span className="dot" aria-hidden="true" />
        {hub.status}
      </span>
      <span>
        Transport: <strong data-testid="transport">{hub.transport ?? '—'}</strong>
      </span>
      <span>
        Protocol: <strong data-testid="protocol">{protocol === 'messagepack' ? 'MessagePack' : 'JSON'}</strong>
      </span>
      <span>
        Instance: <strong data-testid="instance">{hub.instance ?? 'unknown'}</strong>
      </span>
      <span>
        RTT: <strong data-testid="rtt">{connected && rtt !== undefined ? `${rtt.toFixed(1)} ms` : '—'}</strong>
      </span>
    </footer>
  );
}
