// A small client for Switchboard's event streams (docs/events.md): an EventSource with typed
// handlers per event name, resume with Last-Event-ID across reconnects (to any instance), the
// `reset` event, and publishing through the REST API. Browsers and Node (pass the `eventsource`
// package as options.EventSource); no dependencies.

const RESET = 'reset';
// Waits before reopening a stream the server refused or closed for good: EventSource retries a
// dropped connection by itself, but gives up on an HTTP error (a draining or restarting
// instance), so this takes over there. Capped so a long outage costs one request per 10 s.
const REOPEN_DELAYS_MS = [0, 1000, 2000, 5000, 10000];

/** The URL of a subscription: `GET /events?channel=...&lastEventId=...&access_token=...`. */
export function subscriptionUrl(baseUrl, channels, { lastEventId, accessToken } = {}) {
  const url = new URL('events', withSlash(baseUrl));
  for (const channel of channels) url.searchParams.append('channel', channel);
  if (lastEventId) url.searchParams.set('lastEventId', lastEventId);
  if (accessToken) url.searchParams.set('access_token', accessToken);
  return url.toString();
}

export class EventStream {
  /**
   * @param {string} baseUrl the server, e.g. http://localhost:5000
   * @param {{channels: string[], accessToken?: () => string | Promise<string>,
   *          lastEventId?: string, EventSource?: any}} options
   */
  constructor(baseUrl, options) {
    if (!options?.channels?.length) throw new Error('EventStream needs at least one channel');
    this.baseUrl = baseUrl;
    this.options = options;
    this.lastEventId = options.lastEventId ?? '';
    this.handlers = new Map();
    this.resetHandlers = [];
    this.stateHandlers = [];
    this.closed = false;
    this.failures = 0;
    this.source = null;
    this.timer = null;
    this.open();
  }

  /** Calls handler(data, {channel, id, type}) for every event of `type`. */
  on(type, handler) {
    if (type === RESET) throw new Error("use onReset() for the 'reset' event");
    if (!this.handlers.has(type)) {
      this.handlers.set(type, []);
      this.source?.addEventListener(type, (event) => this.dispatch(type, event));
    }
    this.handlers.get(type).push(handler);
    return this;
  }

  /** The history no longer covered the gap: handler(channel) should reload that state. */
  onReset(handler) {
    this.resetHandlers.push(handler);
    return this;
  }

  /** handler('open' | 'reconnecting' | 'closed'). */
  onState(handler) {
    this.stateHandlers.push(handler);
    return this;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
    this.emitState('closed');
  }

  async open() {
    if (this.closed) return;
    const Source = this.options.EventSource ?? globalThis.EventSource;
    if (!Source) throw new Error('no EventSource: pass options.EventSource (e.g. the eventsource package)');
    const accessToken = this.options.accessToken ? await this.options.accessToken() : undefined;
    if (this.closed) return;
    const url = subscriptionUrl(this.baseUrl, this.options.channels, { lastEventId: this.lastEventId, accessToken });
    const source = new Source(url);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.emitState('open');
    };
    source.onerror = () => {
      if (this.closed || source !== this.source) return;
      // CONNECTING: EventSource retries by itself, with Last-Event-ID. CLOSED: it gave up.
      if (source.readyState === 2) {
        source.close();
        this.emitState('reconnecting');
        const delay = REOPEN_DELAYS_MS[Math.min(this.failures, REOPEN_DELAYS_MS.length - 1)];
        this.failures += 1;
        this.timer = setTimeout(() => this.open(), delay * (0.8 + 0.4 * Math.random()));
      } else {
        this.emitState('reconnecting');
      }
    };
    for (const type of this.handlers.keys()) {
      source.addEventListener(type, (event) => this.dispatch(type, event));
    }
    source.addEventListener(RESET, (event) => {
      const body = parse(event.data);
      for (const handler of this.resetHandlers) handler(body?.channel);
    });
  }

  dispatch(type, event) {
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    const body = parse(event.data);
    if (!body) return;
    for (const handler of this.handlers.get(type) ?? []) {
      handler(body.data, { channel: body.channel, id: event.lastEventId, type });
    }
  }

  emitState(state) {
    for (const handler of this.stateHandlers) handler(state);
  }
}

/**
 * Publishes through the REST API: to `channel`, to `channels`, or to `all`. Resolves with the
 * ids per channel; rejects with the server's status and message.
 */
export async function publishEvent(baseUrl, { channel, channels, all, type, data }, { token, fetch: fetcher } = {}) {
  const doFetch = fetcher ?? globalThis.fetch;
  let path = 'api/events';
  const body = { type, data: data ?? null };
  if (channel !== undefined) path += `/${encodeURIComponent(channel)}`;
  else if (all) body.all = true;
  else body.channels = channels;
  const response = await doFetch(new URL(path, withSlash(baseUrl)), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`publish failed: ${response.status} ${text}`);
  return JSON.parse(text).ids;
}

function withSlash(url) {
  return url.endsWith('/') ? url : `${url}/`;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
