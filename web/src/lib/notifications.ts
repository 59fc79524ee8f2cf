// Tenant jobs and toasts: what the example worker (examples/worker) sends on
// /hubs/notifications, folded into state; and the development stand-in for that worker, which
// sends the same messages through the REST API with `make run`'s development access key.

export interface TenantProgress {
  jobId: string;
  tenantName: string;
  percent: number;
}
export interface TenantCreated {
  jobId: string;
  tenantName: string;
}
export interface TenantCreationFailed {
  jobId: string;
  tenantName: string;
  error: string;
}

export interface Job {
  jobId: string;
  tenantName: string;
  percent: number;
  status: 'queued' | 'running' | 'created' | 'failed';
  error?: string;
}

export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

export interface NotificationsState {
  jobs: Job[];
  toasts: Toast[];
  nextToast: number;
}

/** Toasts on screen at once: the oldest goes first. */
export const MAX_TOASTS = 4;
/** Jobs listed: the oldest finished ones drop off. */
export const MAX_JOBS = 20;

export type NotificationsAction =
  | { type: 'queued'; jobId: string; tenantName: string }
  | { type: 'progress'; payload: TenantProgress }
  | { type: 'created'; payload: TenantCreated }
  | { type: 'failed'; payload: TenantCreationFailed }
  | { type: 'toast'; kind: Toast['kind']; text: string }
  | { type: 'dismiss'; id: number };

export const initialNotifications: NotificationsState = { jobs: [], toasts: [], nextToast: 1 };

function upsert(jobs: Job[], job: Partial<Job> & Pick<Job, 'jobId'>): Job[] {
  const existing = jobs.find((j) => j.jobId === job.jobId);
  if (existing) return jobs.map((j) => (j.jobId === job.jobId ? { ...j, ...job } : j));
  const added: Job = { tenantName: '', percent: 0, status: 'queued', ...job };
  return [added, ...jobs].slice(0, MAX_JOBS);
}

function toast(state: NotificationsState, kind: Toast['kind'], text: string): NotificationsState {
  const toasts = [...state.toasts, { id: state.nextToast, kind, text }];
  return { ...state, toasts: toasts.slice(-MAX_TOASTS), nextToast: state.nextToast + 1 };
}

export function notificationsReducer(state: NotificationsState, action: NotificationsAction): NotificationsState {
  switch (action.type) {
    case 'queued':
      return { ...state, jobs: upsert(state.jobs, { jobId: action.jobId, tenantName: action.tenantName, status: 'queued' }) };
    case 'progress': {
      const { jobId, tenantName, percent } = action.payload;
      const current = state.jobs.find((j) => j.jobId === jobId);
      // A late progress message never turns a finished job back into a running one.
      if (current && (current.status === 'created' || current.status === 'failed')) return state;
      return { ...state, jobs: upsert(state.jobs, { jobId, tenantName, percent, status: 'running' }) };
    }
    case 'created': {
      const { jobId, tenantName } = action.payload;
      const next = { ...state, jobs: upsert(state.jobs, { jobId, tenantName, percent: 100, status: 'created' }) };
      return toast(next, 'success', `Tenant "${tenantName}" created`);
    }
    case 'failed': {
      const { jobId, tenantName, error } = action.payload;
      const next = { ...state, jobs: upsert(state.jobs, { jobId, tenantName, status: 'failed', error }) };
      return toast(next, 'error', `Tenant "${tenantName}" failed: ${error}`);
    }
    case 'toast':
      return toast(state, action.kind, action.text);
    case 'dismiss':
      return { ...state, toasts: state.toasts.filter((t) => t.id !== action.id) };
  }
}

// ---------------------------------------------------------------------------------------------
// The development worker: REST API calls signed as Azure SignalR's are (HS256, aud = the URL).

/** The access key `make run` starts the server with; public, so never use it in production. */
export const DEV_ACCESS_KEY = 'switchboard-development-access-key-make-run';

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const encodeJson = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));

/** An HS256 JWT for `audience`, valid for `seconds`, signed with `key` (WebCrypto). */
export async function signAccessToken(key: string, audience: string, now = Date.now(), seconds = 300): Promise<string> {
  const header = encodeJson({ alg: 'HS256', typ: 'JWT' });
  const claims = encodeJson({ aud: audience, iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + seconds });
  const hmac = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const signature = await crypto.subtle.sign('HMAC', hmac, new TextEncoder().encode(`${header}.${claims}`));
  return `${header}.${claims}.${base64url(new Uint8Array(signature))}`;
}

/** POST /api/hubs/{hub}/users/{user}/:send, as the REST API's clients (and the worker) do. */
export async function sendToUser(
  origin: string,
  key: string,
  hub: string,
  user: string,
  target: string,
  args: unknown[],
): Promise<void> {
  const url = `${origin}/api/hubs/${encodeURIComponent(hub)}/users/${encodeURIComponent(user)}/:send`;
  const token = await signAccessToken(key, url);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ target, arguments: args }),
  });
  if (response.status !== 202) {
    throw new Error(`REST API answered ${response.status}: ${(await response.text()) || response.statusText}`);
  }
}

export interface DevJob {
  jobId: string;
  user: string;
  tenantName: string;
  /** The failure to report, as a job with `error` makes the example worker fail it. */
  error?: string;
}

/**
 * Runs a job as examples/worker does (three TenantProgress, then TenantCreated or
 * TenantCreationFailed to the job's user), from this page, over the REST API.
 */
export async function runDevJob(
  job: DevJob,
  { origin = location.origin, key = DEV_ACCESS_KEY, stepMs = 400 }: { origin?: string; key?: string; stepMs?: number } = {},
): Promise<void> {
  const send = (target: string, payload: unknown) => sendToUser(origin, key, 'notifications', job.user, target, [payload]);
  for (const percent of [25, 50, 75]) {
    await send('TenantProgress', { jobId: job.jobId, tenantName: job.tenantName, percent });
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  if (job.error) await send('TenantCreationFailed', { jobId: job.jobId, tenantName: job.tenantName, error: job.error });
  else await send('TenantCreated', { jobId: job.jobId, tenantName: job.tenantName });
}
