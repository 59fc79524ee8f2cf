// Types of clients/events/index.js; the shapes follow docs/openapi/events.json (EventData,
// ResetData, PublishOne, PublishMany, Published), which tests/e2e/events-client.test.mjs checks.

/** Event names to their data, e.g. { PlayerJoinedEvent: { player: string } }. */
export type EventMap = Record<string, unknown>;

export interface EventMeta<K extends string = string> {
  channel: string;
  id: string;
  type: K;
}

export interface EventStreamOptions {
  channels: string[];
  /** Called before every (re)open; sent as access_token (EventSource cannot send headers). */
  accessToken?: () => string | Promise<string>;
  /** Resume after this id instead of starting live. */
  lastEventId?: string;
  /** The EventSource class: globalThis.EventSource in browsers, the eventsource package in Node. */
  EventSource?: unknown;
}

export type StreamState = 'open' | 'reconnecting' | 'closed';

export declare class EventStream<Events extends EventMap = EventMap> {
  constructor(baseUrl: string, options: EventStreamOptions);
  /** The id of the last event handled: where a new stream would resume. */
  readonly lastEventId: string;
  on<K extends keyof Events & string>(type: K, handler: (data: Events[K], meta: EventMeta<K>) => void): this;
  onReset(handler: (channel: string) => void): this;
  onState(handler: (state: StreamState) => void): this;
  close(): void;
}

export declare function subscriptionUrl(
  baseUrl: string,
  channels: string[],
  options?: { lastEventId?: string; accessToken?: string },
): string;

export type Publication =
  | { channel: string; type: string; data?: unknown }
  | { channels: string[]; type: string; data?: unknown }
  | { all: true; type: string; data?: unknown };

/** Resolves with the id each channel gave the event. */
export declare function publishEvent(
  baseUrl: string,
  publication: Publication,
  options?: { token?: string; fetch?: typeof fetch },
): Promise<Record<string, string>>;
