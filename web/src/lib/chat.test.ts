import { describe, expect, test } from 'vitest';
import { chatReducer, initialChat, linesOf, MAX_LINES, OTHER_TAB, titleOf, type ChatAction, type ChatState } from './chat';

const run = (actions: ChatAction[], state: ChatState = initialChat('alice')) => actions.reduce(chatReducer, state);

describe('chat reducer', () => {
  test('broadcasts go to Everyone; unread counts only for conversations not on screen', () => {
    const state = run([
      { type: 'joined', group: 'team' }, // selects the group
      { type: 'received', from: 'bob', text: 'hi all', at: 1 },
      { type: 'received', from: 'alice', text: 'mine', at: 2 },
      { type: 'receivedGroup', group: 'team', from: 'bob', text: 'hi team', at: 3 },
    ]);
    expect(linesOf(state, 'all').map((l) => l.text)).toEqual(['hi all', 'mine']);
    expect(linesOf(state, 'all')[1]?.mine).toBe(true);
    expect(state.unread).toEqual({ all: 1 });
    const back = chatReducer(state, { type: 'select', conversation: 'all' });
    expect(back.unread).toEqual({});
  });

  test('a direct message opens a conversation with its sender', () => {
    const state = run([{ type: 'receivedDirect', from: 'bob', text: 'psst', at: 1 }]);
    expect(state.directs).toEqual(['bob']);
    expect(linesOf(state, 'user:bob').map((l) => [l.from, l.text, l.mine])).toEqual([['bob', 'psst', false]]);
    expect(state.unread['user:bob']).toBe(1);
  });

  test("our own direct message's echo lands in the conversation this tab sent it to", () => {
    const state = run([
      { type: 'select', conversation: 'user:bob' },
      { type: 'sentDirect', to: 'bob', text: 'one' },
      { type: 'sentDirect', to: 'carol', text: 'two' },
      { type: 'receivedDirect', from: 'alice', text: 'two', at: 1 },
      { type: 'receivedDirect', from: 'alice', text: 'one', at: 2 },
    ]);
    expect(linesOf(state, 'user:carol').map((l) => l.text)).toEqual(['two']);
    expect(linesOf(state, 'user:bob').map((l) => l.text)).toEqual(['one']);
    expect(state.pendingDirect).toEqual([]);
    expect(state.directs).toEqual(['carol', 'bob']);
  });

  test('an echo this tab did not send (another tab of ours) is kept apart', () => {
    const state = run([{ type: 'receivedDirect', from: 'alice', text: 'from my phone', at: 1 }]);
    expect(linesOf(state, OTHER_TAB).map((l) => l.text)).toEqual(['from my phone']);
    expect(titleOf(OTHER_TAB)).toBe('Sent from another tab');
  });

  test('groups: join selects, notices go to the group, leaving forgets members and reselects Everyone', () => {
    let state = run([
      { type: 'joined', group: 'team' },
      { type: 'userJoinedGroup', user: 'bob', group: 'team', at: 1 },
      { type: 'members', group: 'team', users: ['bob', 'alice', 'bob'] },
      { type: 'members', group: 'other', users: ['x'] },
    ]);
    expect(state.selected).toBe('group:team');
    expect(state.members).toEqual({ team: ['alice', 'bob'] });
    expect(linesOf(state, 'group:team').map((l) => [l.kind, l.text])).toEqual([['notice', 'bob joined team']]);
    state = chatReducer(state, { type: 'joined', group: 'team' });
    expect(state.groups).toEqual(['team']);
    state = chatReducer(state, { type: 'left', group: 'team' });
    expect(state.groups).toEqual([]);
    expect(state.members).toEqual({});
    expect(state.selected).toBe('all');
  });

  test('presence: the online list is sorted and unique', () => {
    const state = run([
      { type: 'online', users: ['carol', 'alice'] },
      { type: 'userOnline', user: 'bob' },
      { type: 'userOnline', user: 'bob' },
      { type: 'userOffline', user: 'carol' },
    ]);
    expect(state.online).toEqual(['alice', 'bob']);
  });

  test('errors show in the conversation on screen; the log is bounded', () => {
    let state = run([{ type: 'select', conversation: 'user:bob' }, { type: 'error', text: 'nope', at: 1 }]);
    expect(linesOf(state, 'user:bob').map((l) => l.kind)).toEqual(['error']);
    for (let i = 0; i < MAX_LINES + 10; i += 1) state = chatReducer(state, { type: 'received', from: 'bob', text: `${i}`, at: i });
    expect(state.lines).toHaveLength(MAX_LINES);
    expect(state.lines.at(-1)?.text).toBe(`${MAX_LINES + 9}`);
  });
});
