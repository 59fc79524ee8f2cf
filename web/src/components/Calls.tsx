// Calls: invite an online user, ring, accept or reject, talk (WebRTC audio and video between
// two browsers, signalled through /hubs/calls), hang up.
import { useCallback, useEffect, useReducer, useRef, useState, type FormEvent } from 'react';
import type { HubConnection } from '@microsoft/signalr';
import { busy, callReducer, idleCall, parseSignal, type Signal } from '../lib/calls';

interface Props {
  me: string;
  online: string[];
  connection: HubConnection | null;
  connected: boolean;
}

/** Camera and microphone when there are some; a call still connects without (a data channel). */
async function localMedia(): Promise<MediaStream | null> {
  for (const constraints of [{ audio: true, video: true }, { audio: true }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch {
      // try the next, smaller set
    }
  }
  return null;
}

export function Calls({ me, online, connection, connected }: Props) {
  const [call, dispatch] = useReducer(callReducer, idleCall);
  const [peerInput, setPeerInput] = useState('');
  const callRef = useRef(call);
  const pc = useRef<RTCPeerConnection | null>(null);
  const pendingCandidates = useRef<RTCIceCandidateInit[]>([]);
  const accepting = useRef<string | undefined>(undefined);
  const localVideo = useRef<HTMLVideoElement>(null);
  const remoteVideo = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    callRef.current = call;
  });

  const hangUpMedia = useCallback(() => {
    const peer = pc.current;
    pc.current = null;
    pendingCandidates.current = [];
    if (!peer) return;
    for (const sender of peer.getSenders()) sender.track?.stop();
    peer.close();
    if (localVideo.current) localVideo.current.srcObject = null;
    if (remoteVideo.current) remoteVideo.current.srcObject = null;
  }, []);

  const signal = useCallback(
    (callId: string, message: Signal) => {
      connection?.invoke('SendSignal', callId, JSON.stringify(message)).catch(() => {
        // the call ended meanwhile: CallEnded says so
      });
    },
    [connection],
  );

  /** The peer connection with our media on it; candidates go to the other party as found. */
  const startMedia = useCallback(
    async (callId: string) => {
      const peer = new RTCPeerConnection();
      pc.current = peer;
      peer.onicecandidate = (e) => {
        if (e.candidate) signal(callId, { kind: 'candidate', candidate: e.candidate.toJSON() });
      };
      peer.onconnectionstatechange = () => dispatch({ type: 'media', state: peer.connectionState });
      peer.ontrack = (e) => {
        if (remoteVideo.current && e.streams[0]) remoteVideo.current.srcObject = e.streams[0];
      };
      const stream = await localMedia();
      if (pc.current !== peer) {
        stream?.getTracks().forEach((t) => t.stop());
        return null;
      }
      if (stream) {
        for (const track of stream.getTracks()) peer.addTrack(track, stream);
        if (localVideo.current) localVideo.current.srcObject = stream;
      }
      return peer;
    },
    [signal],
  );

  const applyRemote = useCallback(async (peer: RTCPeerConnection, description: RTCSessionDescriptionInit) => {
    await peer.setRemoteDescription(description);
    for (const candidate of pendingCandidates.current.splice(0)) await peer.addIceCandidate(candidate);
  }, []);

  useEffect(() => {
    if (!connection) return;
    const onIncoming = (callId: string, from: string) => dispatch({ type: 'incoming', callId, from });
    const onAccepted = (callId: string) => {
      const current = callRef.current;
      dispatch({ type: 'accepted', callId, byThisTab: accepting.current === callId });
      // The initiator makes the offer once the other side accepted; a data channel makes sure
      // there is something to connect even without camera and microphone.
      if (current.callId === callId && current.phase === 'calling') {
        void startMedia(callId).then(async (peer) => {
          if (!peer) return;
          peer.createDataChannel('call');
          const offer = await peer.createOffer();
          await peer.setLocalDescription(offer);
          signal(callId, { kind: 'offer', sdp: offer.sdp ?? '' });
        });
      }
    };
    const onEnded = (callId: string, by: string, reason: string) => {
      if (callRef.current.callId !== callId) return;
      hangUpMedia();
      dispatch({ type: 'ended', callId, by, reason });
    };
    const onSignal = (callId: string, _from: string, payload: unknown) => {
      const message = parseSignal(payload);
      const peer = pc.current;
      if (!message || !peer || callRef.current.callId !== callId) return;
      void (async () => {
        if (message.kind === 'candidate') {
          // Candidates may overtake the offer or answer: held until it is applied.
          if (peer.remoteDescription) await peer.addIceCandidate(message.candidate);
          else pendingCandidates.current.push(message.candidate);
        } else if (message.kind === 'offer') {
          await applyRemote(peer, { type: 'offer', sdp: message.sdp });
          const answer = await peer.createAnswer();
          await peer.setLocalDescription(answer);
          signal(callId, { kind: 'answer', sdp: answer.sdp ?? '' });
        } else {
          await applyRemote(peer, { type: 'answer', sdp: message.sdp });
        }
      })().catch((error: Error) => dispatch({ type: 'failed', reason: `WebRTC: ${error.message}` }));
    };
    connection.on('IncomingCall', onIncoming);
    connection.on('CallAccepted', onAccepted);
    connection.on('CallEnded', onEnded);
    connection.on('ReceiveSignal', onSignal);
    return () => {
      connection.off('IncomingCall', onIncoming);
      connection.off('CallAccepted', onAccepted);
      connection.off('CallEnded', onEnded);
      connection.off('ReceiveSignal', onSignal);
    };
  }, [connection, startMedia, applyRemote, signal, hangUpMedia]);

  useEffect(() => hangUpMedia, [hangUpMedia]);

  const invite = async (peer: string) => {
    if (!connection || !peer || busy(call)) return;
    try {
      const callId = await connection.invoke<string>('InitiateCall', peer);
      dispatch({ type: 'initiated', callId, peer });
    } catch (error) {
      dispatch({ type: 'failed', reason: error instanceof Error ? error.message : String(error) });
    }
  };

  const accept = async () => {
    const { callId } = call;
    if (!connection || !callId) return;
    accepting.current = callId;
    // Ready for the offer before the initiator hears that we accepted.
    await startMedia(callId);
    try {
      await connection.invoke('AcceptCall', callId);
    } catch (error) {
      hangUpMedia();
      dispatch({ type: 'failed', reason: error instanceof Error ? error.message : String(error) });
    }
  };

  const reject = () => {
    if (call.callId) connection?.invoke('RejectCall', call.callId).catch(() => {});
  };

  const end = () => {
    if (call.callId) connection?.invoke('EndCall', call.callId).catch(() => {});
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void invite(peerInput.trim());
  };

  const others = online.filter((u) => u !== me);
  const active = call.phase === 'connecting' || call.phase === 'connected';
  return (
    <section className="card" aria-labelledby="calls-title">
      <h2 id="calls-title">Call</h2>
      <p className="call-status" role="status" data-testid="call-status" data-phase={call.phase}>
        {call.phase === 'idle' && 'No call.'}
        {call.phase === 'calling' && `Calling ${call.peer}…`}
        {call.phase === 'ringing' && `${call.peer} is calling you`}
        {call.phase === 'connecting' && `Connecting to ${call.peer}…`}
        {call.phase === 'connected' && `In a call with ${call.peer}`}
        {call.phase === 'ended' && `Call ended (${call.endedReason ?? 'ended'})`}
      </p>
      {call.phase === 'ringing' && (
        <div className="inline-form">
          <button type="button" className="primary" onClick={() => void accept()}>
            Accept
          </button>
          <button type="button" onClick={reject}>
            Reject
          </button>
        </div>
      )}
      {(call.phase === 'calling' || active) && (
        <button type="button" className="danger" onClick={end}>
          Hang up
        </button>
      )}
      {!busy(call) && (
        <form onSubmit={submit} className="inline-form">
          <label htmlFor="call-user" className="visually-hidden">
            User to call
          </label>
          <input
            id="call-user"
            list="call-candidates"
            placeholder="user to call"
            value={peerInput}
            onChange={(e) => setPeerInput(e.target.value)}
          />
          <datalist id="call-candidates">
            {others.map((u) => (
              <option key={u} value={u} />
            ))}
          </datalist>
          <button type="submit" disabled={!connected}>
            Call
          </button>
        </form>
      )}
      <div className="videos" hidden={!active}>
        <video ref={remoteVideo} autoPlay playsInline aria-label="Remote video" />
        <video ref={localVideo} autoPlay playsInline muted aria-label="Your video" />
      </div>
    </section>
  );
}
