// One call at a time, as a state machine over the calls hub's events (docs/presence.md, "Calls")
// and the WebRTC connection's state. Pure: tested without a browser.

export type CallPhase =
  | 'idle'
  | 'calling' // we invited, waiting for the other side to accept
  | 'ringing' // we were invited
  | 'connecting' // accepted, WebRTC negotiating
  | 'connected'
  | 'ended';

export interface CallState {
  phase: CallPhase;
  callId?: string;
  peer?: string;
  /** We make the WebRTC offer (the initiator does). */
  initiator: boolean;
  /** Why the last call ended, as the hub or the app says it. */
  endedReason?: string;
}

export type CallAction =
  | { type: 'initiated'; callId: string; peer: string }
  | { type: 'incoming'; callId: string; from: string }
  | { type: 'accepted'; callId: string; byThisTab: boolean }
  | { type: 'media'; state: RTCPeerConnectionState }
  | { type: 'ended'; callId: string; by: string; reason: string }
  | { type: 'failed'; reason: string }
  | { type: 'reset' };

export const idleCall: CallState = { phase: 'idle', initiator: false };

/** Whether a call is going on: another invitation or a new call is refused meanwhile. */
export const busy = (state: CallState) =>
  state.phase === 'calling' || state.phase === 'ringing' || state.phase === 'connecting' || state.phase === 'connected';

export function callReducer(state: CallState, action: CallAction): CallState {
  switch (action.type) {
    case 'initiated':
      return { phase: 'calling', callId: action.callId, peer: action.peer, initiator: true };
    case 'incoming':
      return busy(state) ? state : { phase: 'ringing', callId: action.callId, peer: action.from, initiator: false };
    case 'accepted':
      if (action.callId !== state.callId) return state;
      // Another tab of ours took the call: this one stops ringing and stays out of it.
      if (state.phase === 'ringing' && !action.byThisTab) {
        return { ...idleCall, phase: 'ended', peer: state.peer, endedReason: 'answered in another tab' };
      }
      return state.phase === 'calling' || state.phase === 'ringing' ? { ...state, phase: 'connecting' } : state;
    case 'media':
      if (state.phase !== 'connecting' && state.phase !== 'connected') return state;
      if (action.state === 'connected') return { ...state, phase: 'connected' };
      if (action.state === 'failed') return { ...state, phase: 'ended', endedReason: 'media connection failed' };
      return state;
    case 'ended':
      if (action.callId !== state.callId) return state;
      return { ...state, phase: 'ended', endedReason: `${action.reason} by ${action.by}` };
    case 'failed':
      return { ...state, phase: 'ended', endedReason: action.reason };
    case 'reset':
      return idleCall;
  }
}

/** What the hub relays between the parties (SendSignal / ReceiveSignal), as a JSON string. */
export type Signal =
  | { kind: 'offer' | 'answer'; sdp: string }
  | { kind: 'candidate'; candidate: RTCIceCandidateInit };

export function parseSignal(payload: unknown): Signal | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const value = JSON.parse(payload) as Partial<Signal> & Record<string, unknown>;
    if ((value.kind === 'offer' || value.kind === 'answer') && typeof value.sdp === 'string') {
      return { kind: value.kind, sdp: value.sdp };
    }
    if (value.kind === 'candidate' && typeof value.candidate === 'object' && value.candidate !== null) {
      return { kind: 'candidate', candidate: value.candidate as RTCIceCandidateInit };
    }
  } catch {
    // not ours: ignored
  }
  return undefined;
}
