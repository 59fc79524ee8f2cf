import { describe, expect, test } from 'vitest';
import { eventsReducer, initialEvents, MAX_EVENTS, parseEventData } from './events';

describe('events panel', () => {
  test('newest first, duplicates (a resume replaying) dropped, bounded, reset on a new channel', () => {
    let state = eventsReducer(initialEvents, { type: 'subscribed', channel: 'demo' });
    state = eventsReducer(state, { type: 'event', id: '1-0', name: 'Tick', data: 1 });
    state = eventsReducer(state, { type: 'event', id: '1-1', name: 'Tick', data: 2 });
    state = eventsReducer(state, { type: 'event', id: '1-0', name: 'Tick', data: 1 });
    expect(state.events.map((e) => e.data)).toEqual([2, 1]);
    for (let i = 0; i < MAX_EVENTS + 5; i += 1) state = eventsReducer(state, { type: 'event', id: `2-${i}`, name: 'Tick', data: i });
    expect(state.events).toHaveLength(MAX_EVENTS);
    state = eventsReducer(state, { type: 'subscribed', channel: 'other' });
    expect(state).toEqual({ channel: 'other', status: 'connecting', events: [] });
  });

  test("data is the published value out of the server's {channel, data} envelope", () => {
    expect(parseEventData('{"channel":"demo","data":{"a":1}}')).toEqual({ a: 1 });
    expect(parseEventData('{"reason":"history","channel":"x"}')).toEqual({ reason: 'history', channel: 'x' });
    expect(parseEventData('plain')).toBe('plain');
  });
});
