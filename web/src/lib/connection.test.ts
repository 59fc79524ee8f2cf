import { describe, expect, test } from 'vitest';
import { hubUrl, userOfToken } from './connection';

const jwt = (claims: object) =>
  `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('identity', () => {
  test('development mode names the user in the hub URL; a token keeps it out', () => {
    expect(hubUrl('/hubs/chat', { user: 'ann lee' })).toBe('/hubs/chat?user=ann%20lee');
    expect(hubUrl('/hubs/chat', { user: 'ann', token: 't' })).toBe('/hubs/chat');
  });

  test("a token's user is sub, else .NET's NameIdentifier; unreadable tokens name nobody", () => {
    expect(userOfToken(jwt({ sub: 'alice', exp: 1 }))).toBe('alice');
    expect(userOfToken(jwt({ 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier': 'bob' }))).toBe('bob');
    expect(userOfToken(jwt({ sub: '' }))).toBeUndefined();
    expect(userOfToken('not-a-token')).toBeUndefined();
    expect(userOfToken('a.%%%.c')).toBeUndefined();
  });
});
