// Hub connections as the app opens them: the official client, JSON or MessagePack, the signed-in
// identity, automatic reconnect, and the instance that answered negotiate.
import {
  DefaultHttpClient,
  HttpError,
  HttpResponse,
  HttpTransportType,
  HubConnectionBuilder,
  LogLevel,
  type HttpRequest,
  type HubConnection,
  type ILogger,
} from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';

export type Protocol = 'json' | 'messagepack';
export type TransportChoice = 'auto' | 'websockets' | 'sse' | 'longpolling';

/** Who the app signs in as: a development user name, or a JWT whose subject is the user. */
export interface Identity {
  user: string;
  token?: string;
}

export interface ConnectionSettings {
  identity: Identity;
  protocol: Protocol;
  transport: TransportChoice;
}

/** The header Switchboard names itself in on negotiate (behind a load balancer: which instance). */
export const INSTANCE_HEADER = 'X-Switchboard-Instance';

const TRANSPORTS: Record<TransportChoice, HttpTransportType | undefined> = {
  auto: undefined,
  websockets: HttpTransportType.WebSockets,
  sse: HttpTransportType.ServerSentEvents,
  longpolling: HttpTransportType.LongPolling,
};

/**
 * The official HTTP client, except that negotiate goes through fetch so its response headers
 * can be read (the client's own HttpResponse carries none).
 */
class InstanceAwareHttpClient extends DefaultHttpClient {
  constructor(
    logger: ILogger,
    private readonly onInstance: (instance: string | undefined) => void,
  ) {
    super(logger);
  }

  override async send(request: HttpRequest): Promise<HttpResponse> {
    if (request.method !== 'POST' || !request.url?.includes('/negotiate')) {
      return super.send(request);
    }
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.content as BodyInit | undefined,
      credentials: request.withCredentials === false ? 'omit' : 'include',
      signal: request.abortSignal ? toAbortSignal(request.abortSignal) : undefined,
    });
    const content = await response.text();
    this.onInstance(response.headers.get(INSTANCE_HEADER) ?? undefined);
    // As the official fetch client: a failure status is an HttpError (401 ends reconnecting).
    if (response.status < 200 || response.status >= 300) {
      throw new HttpError(content || response.statusText, response.status);
    }
    return new HttpResponse(response.status, response.statusText, content);
  }
}

function toAbortSignal(signal: { aborted: boolean; onabort: (() => void) | null }): AbortSignal {
  const controller = new AbortController();
  if (signal.aborted) controller.abort();
  else signal.onabort = () => controller.abort();
  return controller.signal;
}

/** The hub URL with the development identity (`?user=`) when no token is used. */
export function hubUrl(path: string, identity: Identity): string {
  return identity.token ? path : `${path}?user=${encodeURIComponent(identity.user)}`;
}

export function buildConnection(
  path: string,
  settings: ConnectionSettings,
  onInstance: (instance: string | undefined) => void = () => {},
  onTransport: (transport: string) => void = () => {},
): HubConnection {
  const logger: ILogger = {
    log: (level, message) => {
      // The client says which transport it picked only in its log.
      const chosen = /^Selecting transport '(\w+)'/.exec(message);
      if (chosen?.[1]) onTransport(chosen[1]);
      // Warnings, not errors: a stopped instance is part of the demo, not a page error.
      if (level >= LogLevel.Error) console.warn(`[signalr ${path}] ${message}`);
    },
  };
  const { token } = settings.identity;
  const builder = new HubConnectionBuilder()
    .withUrl(hubUrl(path, settings.identity), {
      transport: TRANSPORTS[settings.transport],
      httpClient: new InstanceAwareHttpClient(logger, onInstance),
      ...(token ? { accessTokenFactory: () => token } : {}),
    })
    // Retry forever with the official back-off capped at 10 s: a demo left open rides out a
    // restart of every instance.
    .withAutomaticReconnect({ nextRetryDelayInMilliseconds: (ctx) => Math.min(10_000, 500 * 2 ** ctx.previousRetryCount) })
    .configureLogging(logger);
  if (settings.protocol === 'messagepack') builder.withHubProtocol(new MessagePackHubProtocol());
  return builder.build();
}

/** The user id a JWT names (`sub`, then .NET's NameIdentifier); undefined when unreadable. */
export function userOfToken(token: string): string | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as Record<string, unknown>;
    const user =
      claims.sub ?? claims.nameid ?? claims['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier'];
    return typeof user === 'string' && user !== '' ? user : undefined;
  } catch {
    return undefined;
  }
}
