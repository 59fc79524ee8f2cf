import { describe, expect, test } from 'vitest';
import { busy, callReducer, idleCall, parseSignal, type CallAction } from './calls';

const run = (actions: CallAction[]) => actions.reduce(callReducer, idleCall);

describe('call state machine', () => {
  test('caller: calling, connecting once accepted, connected when the media is', () => {
    const state = run([
      { type: 'initiated', callId: 'c1', peer: 'bob' },
      { type: 'accepted', callId: 'c1', byThisTab: false },
      { type: 'media', state: 'connecting' },
      { type: 'media', state: 'connected' },
    ]);
    expect(state).toMatchObject({ phase: 'connected', callId: 'c1', peer: 'bob', initiator: true });
  });

  test('callee: ringing, accepted here, then ended by the other side', () => {
    const state = run([
      { type: 'incoming', callId: 'c2', from: 'alice' },
      { type: 'accepted', callId: 'c2', byThisTab: true },
      { type: 'ended', callId: 'c2', by: 'alice', reason: 'ended' },
    ]);
    expect(state).toMatchObject({ phase: 'ended', endedReason: 'ended by alice' });
  });

  test('another tab answering stops this one ringing; a second invitation during a call is ignored', () => {
    expect(run([{ type: 'incoming', callId: 'c3', from: 'alice' }, { type: 'accepted', callId: 'c3', byThisTab: false }])).toMatchObject({
      phase: 'ended',
      endedReason: 'answered in another tab',
    });
    const inCall = run([{ type: 'initiated', callId: 'c4', peer: 'bob' }, { type: 'incoming', callId: 'c5', from: 'carol' }]);
    expect(inCall.callId).toBe('c4');
    expect(busy(inCall)).toBe(true);
  });

  test('events of other calls are ignored; media changes before acceptance too', () => {
    const state = run([
      { type: 'initiated', callId: 'c6', peer: 'bob' },
      { type: 'ended', callId: 'other', by: 'x', reason: 'ended' },
      { type: 'media', state: 'connected' },
    ]);
    expect(state.phase).toBe('calling');
  });

  test('signals: offers, answers and candidates parse; anything else is dropped', () => {
    expect(parseSignal(JSON.stringify({ kind: 'offer', sdp: 'v=0' }))).toEqual({ kind: 'offer', sdp: 'v=0' });
    expect(parseSignal(JSON.stringify({ kind: 'candidate', candidate: { candidate: 'c', sdpMid: '0' } }))).toEqual({
      kind: 'candidate',
      candidate: { candidate: 'c', sdpMid: '0' },
    });
    expect(parseSignal('{"kind":"offer"}')).toBeUndefined();
    expect(parseSignal('not json')).toBeUndefined();
    expect(parseSignal({ kind: 'offer', sdp: 'x' })).toBeUndefined();
  });
});
