// Conversations (everyone, groups, direct messages), who is online, and the message pane.
// User data is rendered as text by React, never as HTML.
import { useEffect, useRef, useState, type Dispatch, type FormEvent } from 'react';
import type { HubConnection } from '@microsoft/signalr';
import { linesOf, OTHER_TAB, titleOf, type ChatAction, type ChatState, type ConversationId } from '../lib/chat';

interface Props {
  state: ChatState;
  dispatch: Dispatch<ChatAction>;
  connection: HubConnection | null;
  connected: boolean;
}

const time = (at: number) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function Chat({ state, dispatch, connection, connected }: Props) {
  const [text, setText] = useState('');
  const [group, setGroup] = useState('');
  const [dmUser, setDmUser] = useState('');
  const logRef = useRef<HTMLOListElement>(null);
  const selected = state.selected;
  const lines = linesOf(state, selected);

  useEffect(() => {
    const log = logRef.current;
    if (log) log.scrollTop = log.scrollHeight;
  }, [lines.length, selected]);

  const fail = (what: string) => (error: unknown) =>
    dispatch({ type: 'error', text: `${what} failed: ${error instanceof Error ? error.message : String(error)}`, at: Date.now() });

  const send = async (event: FormEvent) => {
    event.preventDefault();
    const message = text.trim();
    if (!message || !connection) return;
    try {
      if (selected === 'all') await connection.invoke('SendMessage', message);
      else if (selected.startsWith('group:')) await connection.invoke('SendToGroup', selected.slice(6), message);
      else {
        const to = selected.slice(5);
        dispatch({ type: 'sentDirect', to, text: message });
        await connection.invoke('SendToUser', to, message);
      }
      setText('');
    } catch (error) {
      fail('Sending')(error);
    }
  };

  const join = async (event: FormEvent) => {
    event.preventDefault();
    const name = group.trim();
    if (!name || !connection) return;
    try {
      await connection.invoke('JoinGroup', name);
      dispatch({ type: 'joined', group: name });
      setGroup('');
    } catch (error) {
      fail(`Joining ${name}`)(error);
    }
  };

  const leave = async (name: string) => {
    if (!connection) return;
    try {
      await connection.invoke('LeaveGroup', name);
      dispatch({ type: 'left', group: name });
    } catch (error) {
      fail(`Leaving ${name}`)(error);
    }
  };

  const openDirect = (event: FormEvent) => {
    event.preventDefault();
    const name = dmUser.trim();
    if (!name) return;
    dispatch({ type: 'select', conversation: `user:${name}` });
    setDmUser('');
  };

  const conversations: ConversationId[] = [
    'all',
    ...state.groups.map((g) => `group:${g}` as const),
    ...state.directs.map((u) => `user:${u}` as const),
    ...(state.lines.some((l) => l.conversation === OTHER_TAB) ? [OTHER_TAB] : []),
  ];
  const currentGroup = selected.startsWith('group:') ? selected.slice(6) : undefined;
  const members = currentGroup ? state.members[currentGroup] : undefined;

  return (
    <section className="chat" aria-labelledby="chat-title">
      <nav className="conversations" aria-label="Conversations">
        <h2 id="chat-title">Chat</h2>
        <ul>
          {conversations.map((c) => (
            <li key={c}>
              <button
                type="button"
                className={c === selected ? 'conversation active' : 'conversation'}
                aria-current={c === selected ? 'true' : undefined}
                data-conversation={c}
                onClick={() => dispatch({ type: 'select', conversation: c })}
              >
                <span>{titleOf(c)}</span>
                {(state.unread[c] ?? 0) > 0 && (
                  <span className="badge" aria-label={`${state.unread[c]} unread`}>
                    {state.unread[c]}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
        <form onSubmit={join} className="inline-form">
          <label htmlFor="group-name" className="visually-hidden">
            Group to join
          </label>
          <input id="group-name" placeholder="group name" value={group} onChange={(e) => setGroup(e.target.value)} />
          <button type="submit" disabled={!connected}>
            Join
          </button>
        </form>
        <form onSubmit={openDirect} className="inline-form">
          <label htmlFor="dm-user" className="visually-hidden">
            User to message
          </label>
          <input id="dm-user" placeholder="user name" value={dmUser} onChange={(e) => setDmUser(e.target.value)} />
          <button type="submit">Message</button>
        </form>

        <h2 id="presence-title">Online</h2>
        <ul className="presence" aria-labelledby="presence-title" data-testid="online">
          {state.online.length === 0 && <li className="muted small">Nobody (or presence is off: --presence)</li>}
          {state.online.map((user) => (
            <li key={user} data-user={user}>
              <span className="dot" aria-hidden="true" />
              <span className="name">
                {user}
                {user === state.me && <span className="muted"> (you)</span>}
              </span>
              {user !== state.me && (
                <button
                  type="button"
                  className="link"
                  aria-label={`Message ${user}`}
                  onClick={() => dispatch({ type: 'select', conversation: `user:${user}` })}
                >
                  Message
                </button>
              )}
            </li>
          ))}
        </ul>
      </nav>

      <div className="messages">
        <header className="messages-head">
          <h2 data-testid="conversation-title">{titleOf(selected)}</h2>
          {currentGroup && (
            <>
              <span className="muted small" data-testid="members">
                {members ? `Members: ${members.join(', ')}` : 'Members: …'}
              </span>
              <button type="button" onClick={() => void leave(currentGroup)} disabled={!connected}>
                Leave
              </button>
            </>
          )}
        </header>
        <ol className="log" ref={logRef} aria-live="polite" aria-label={`Messages in ${titleOf(selected)}`} data-testid="log">
          {lines.length === 0 && <li className="muted small">No messages yet.</li>}
          {lines.map((line) => (
            <li key={line.id} className={`line ${line.kind}${line.mine ? ' mine' : ''}`} data-kind={line.kind}>
              <time dateTime={new Date(line.at).toISOString()}>{time(line.at)}</time>
              {line.from !== undefined && <span className="from">{line.from}</span>}
              <span className="text">{line.text}</span>
            </li>
          ))}
        </ol>
        <form className="composer" onSubmit={send}>
          <label htmlFor="message" className="visually-hidden">
            Message to {titleOf(selected)}
          </label>
          <input
            id="message"
            autoComplete="off"
            placeholder={selected === OTHER_TAB ? 'Pick a conversation to reply' : `Message ${titleOf(selected)}`}
            value={text}
            onChange={(e) => setText(e.target.value)}
            disabled={selected === OTHER_TAB}
          />
          <button type="submit" className="primary" disabled={!connected || selected === OTHER_TAB}>
            Send
          </button>
        </form>
      </div>
    </section>
  );
}
