// Live events: a channel's event stream with the browser's plain EventSource (GET /events), and
// a form that publishes to it (POST /api/events/{channel}; `make run` allows it with
// --events-open, elsewhere it needs the publish key).
import { useEffect, useReducer, useState, type FormEvent } from 'react';
import { eventsReducer, initialEvents, parseEventData } from '../lib/events';

/** The event types the panel listens for: EventSource only delivers named events it was asked for. */
const TYPES = ['Tick', 'Announcement', 'PlayerJoined', 'OrderShipped'];

export function Events() {
  const [channel, setChannel] = useState('demo');
  const [draft, setDraft] = useState('demo');
  const [state, dispatch] = useReducer(eventsReducer, initialEvents);
  const [type, setType] = useState(TYPES[1] ?? 'Announcement');
  const [data, setData] = useState('{"text":"hello"}');
  const [key, setKey] = useState('');
  const [error, setError] = useState('');

  useEffect(() => {
    const source = new EventSource(`/events?channel=${encodeURIComponent(channel)}`);
    dispatch({ type: 'subscribed', channel });
    source.onopen = () => dispatch({ type: 'status', status: 'open' });
    source.onerror = () => dispatch({ type: 'status', status: source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting' });
    const onEvent = (event: MessageEvent<string>) =>
      dispatch({ type: 'event', id: event.lastEventId, name: event.type, data: parseEventData(event.data) });
    for (const name of [...TYPES, 'reset']) source.addEventListener(name, onEvent);
    return () => source.close();
  }, [channel]);

  const subscribe = (event: FormEvent) => {
    event.preventDefault();
    if (draft.trim()) setChannel(draft.trim());
  };

  const publish = async (event: FormEvent) => {
    event.preventDefault();
    setError('');
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return setError('Data must be JSON.');
    }
    const response = await fetch(`/api/events/${encodeURIComponent(channel)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ type, data: parsed }),
    }).catch((e: Error) => e);
    if (response instanceof Error) return setError(response.message);
    if (response.status !== 202) setError(`Publishing answered ${response.status}${response.status === 401 ? ': enter the publish key' : ''}`);
  };

  return (
    <section className="card" aria-labelledby="events-title">
      <h2 id="events-title">
        Live events <span className={`tag ${state.status}`} data-testid="events-status">{state.status}</span>
      </h2>
      <form onSubmit={subscribe} className="inline-form">
        <label htmlFor="events-channel" className="visually-hidden">
          Channel
        </label>
        <input id="events-channel" value={draft} onChange={(e) => setDraft(e.target.value)} />
        <button type="submit">Subscribe</button>
      </form>
      <ol className="events" aria-live="polite" aria-label={`Events on ${channel}`} data-testid="events">
        {state.events.length === 0 && <li className="muted small">Nothing on {channel} yet.</li>}
        {state.events.map((e) => (
          <li key={`${e.id}-${e.name}`} data-type={e.name}>
            <span className="tag">{e.name}</span> <code>{JSON.stringify(e.data)}</code>
          </li>
        ))}
      </ol>
      <form onSubmit={(e) => void publish(e)} className="stack">
        <div className="inline-form">
          <label htmlFor="event-type" className="visually-hidden">
            Event type
          </label>
          <select id="event-type" value={type} onChange={(e) => setType(e.target.value)}>
            {TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          <label htmlFor="event-data" className="visually-hidden">
            Event data (JSON)
          </label>
          <input id="event-data" value={data} onChange={(e) => setData(e.target.value)} spellCheck={false} />
          <button type="submit">Publish</button>
        </div>
        <details>
          <summary className="small">Publish key</summary>
          <label htmlFor="event-key" className="visually-hidden">
            Publish key
          </label>
          <input id="event-key" type="password" value={key} onChange={(e) => setKey(e.target.value)} placeholder="--events-publish-key" />
        </details>
        {error && (
          <p role="alert" className="error-text small">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
