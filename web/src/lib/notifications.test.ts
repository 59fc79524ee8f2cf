import { describe, expect, test } from 'vitest';
import { initialNotifications, MAX_TOASTS, notificationsReducer, signAccessToken, type NotificationsAction } from './notifications';

const run = (actions: NotificationsAction[]) => actions.reduce(notificationsReducer, initialNotifications);

describe('notifications reducer', () => {
  test('a job goes queued, running, created, with one success toast', () => {
    const state = run([
      { type: 'queued', jobId: 'j1', tenantName: 'acme' },
      { type: 'progress', payload: { jobId: 'j1', tenantName: 'acme', percent: 50 } },
      { type: 'created', payload: { jobId: 'j1', tenantName: 'acme' } },
      // a late progress message must not reopen the job
      { type: 'progress', payload: { jobId: 'j1', tenantName: 'acme', percent: 75 } },
    ]);
    expect(state.jobs).toEqual([{ jobId: 'j1', tenantName: 'acme', percent: 100, status: 'created' }]);
    expect(state.toasts).toEqual([{ id: 1, kind: 'success', text: 'Tenant "acme" created' }]);
  });

  test("a failed job keeps its error; a job seen first through the worker's messages is listed too", () => {
    const state = run([{ type: 'failed', payload: { jobId: 'j2', tenantName: 'globex', error: 'quota exceeded' } }]);
    expect(state.jobs[0]).toMatchObject({ jobId: 'j2', status: 'failed', error: 'quota exceeded' });
    expect(state.toasts[0]).toMatchObject({ kind: 'error', text: 'Tenant "globex" failed: quota exceeded' });
  });

  test('toasts are bounded and dismissed by id', () => {
    let state = initialNotifications;
    for (let i = 0; i < MAX_TOASTS + 2; i += 1) state = notificationsReducer(state, { type: 'toast', kind: 'info', text: `${i}` });
    expect(state.toasts.map((t) => t.text)).toEqual(['2', '3', '4', '5']);
    state = notificationsReducer(state, { type: 'dismiss', id: 3 });
    expect(state.toasts.map((t) => t.text)).toEqual(['3', '4', '5']);
  });
});

describe('development worker tokens', () => {
  test('HS256 over header.claims with the key, aud and exp set (the REST API checks both)', async () => {
    const token = await signAccessToken('k'.repeat(32), 'http://localhost:5000/api/hubs/notifications/users/a/:send', 1_000_000, 60);
    const [header, claims, signature] = token.split('.');
    const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(decode(header ?? '')).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decode(claims ?? '')).toEqual({ aud: 'http://localhost:5000/api/hubs/notifications/users/a/:send', iat: 1000, exp: 1060 });
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', 'k'.repeat(32)).update(`${header}.${claims}`).digest('base64url');
    expect(signature).toBe(expected);
  });
});
