// The live events panel's state: the channel's recent events, newest first, and the stream's
// status as EventSource reports it.

export interface ReceivedEvent {
  id: string;
  name: string;
  data: unknown;
}

export interface EventsState {
  channel: string;
  status: 'connecting' | 'open' | 'reconnecting' | 'closed';
  events: ReceivedEvent[];
}

/** Events kept on screen. */
export const MAX_EVENTS = 50;

export type EventsAction =
  | { type: 'subscribed'; channel: string }
  | { type: 'status'; status: EventsState['status'] }
  | { type: 'event'; id: string; name: string; data: unknown };

export const initialEvents: EventsState = { channel: '', status: 'connecting', events: [] };

export function eventsReducer(state: EventsState, action: EventsAction): EventsState {
  switch (action.type) {
    case 'subscribed':
      return action.channel === state.channel ? state : { channel: action.channel, status: 'connecting', events: [] };
    case 'status':
      return { ...state, status: action.status };
    case 'event':
      // A resume may replay an event this page already shows: ids are unique per channel.
      if (action.id && state.events.some((e) => e.id === action.id)) return state;
      return { ...state, events: [{ id: action.id, name: action.name, data: action.data }, ...state.events].slice(0, MAX_EVENTS) };
  }
}

/** An event's `data:` is {"channel", "data"} (docs/events.md): the published value, or the raw text. */
export function parseEventData(text: string): unknown {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && 'data' in body) return (body as { data: unknown }).data;
    return body;
  } catch {
    return text;
  }
}
