// Switchboard demo chat. Uses the official @microsoft/signalr browser bundle (global `signalR`).
// All user-provided data is rendered with textContent, never as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $('status'),
    connectForm: $('connect-form'),
    user: $('user'),
    connect: $('connect'),
    disconnect: $('disconnect'),
    chat: $('chat'),
    messages: $('messages'),
    messageForm: $('message-form'),
    message: $('message'),
    group: $('group'),
    join: $('join'),
    leave: $('leave'),
    sendGroup: $('send-group'),
    toUser: $('to-user'),
    sendDirect: $('send-direct'),
    events: $('events'),
  };

  /** @type {signalR.HubConnection | null} */
  let connection = null;

  function setState(state, text) {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
    const disconnected = state === 'disconnected';
    ui.chat.disabled = state !== 'connected';
    ui.user.disabled = !disconnected;
    ui.connect.disabled = !disconnected;
    ui.disconnect.disabled = disconnected;
  }

  function timestamp() {
    const time = document.createElement('time');
    const now = new Date();
    time.dateTime = now.toISOString();
    time.textContent = now.toLocaleTimeString();
    return time;
  }

  /** Appends "<meta> <body>" to a log list; both parts are plain text. */
  function append(list, kind, meta, body) {
    const item = document.createElement('li');
    item.className = kind;
    item.dataset.kind = kind;
    item.append(timestamp(), ' ');
    const metaSpan = document.createElement('span');
    metaSpan.className = 'meta';
    metaSpan.textContent = meta;
    item.append(metaSpan);
    if (body !== undefined) {
      const bodySpan = document.createElement('span');
      bodySpan.className = 'body';
      bodySpan.textContent = body;
      item.append(' ', bodySpan);
    }
    list.append(item);
    item.scrollIntoView({ block: 'nearest' });
  }

  const showMessage = (kind, meta, text) => append(ui.messages, kind, meta, text);
  const showEvent = (kind, text) => append(ui.events, kind, text);

  async function invoke(method, ...args) {
    if (!connection) return false;
    try {
      await connection.invoke(method, ...args);
      return true;
    } catch (error) {
      showEvent('error', `${method} failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /** Returns the trimmed value of a required input, or null after flagging it. */
  function required(input, what) {
    const value = input.value.trim();
    if (value) {
      input.removeAttribute('aria-invalid');
      return value;
    }
    input.setAttribute('aria-invalid', 'true');
    showEvent('error', `Enter ${what} first.`);
    input.focus();
    return null;
  }

  function createConnection(user) {
    const hub = new signalR.HubConnectionBuilder()
      .withUrl(`/hubs/chat?user=${encodeURIComponent(user)}`)
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.Warning)
      .build();

    hub.on('ReceiveMessage', (from, text) => showMessage('all', `${from}:`, text));
    hub.on('ReceiveGroupMessage', (group, from, text) => showMessage('group', `[${group}] ${from}:`, text));
    hub.on('ReceiveDirectMessage', (from, text) => showMessage('direct', `${from} (direct):`, text));
    hub.on('UserConnected', (name) => showEvent('presence', `${name} connected`));
    hub.on('UserDisconnected', (name) => showEvent('presence', `${name} disconnected`));
    hub.on('UserJoinedGroup', (name, group) => showEvent('group', `${name} joined ${group}`));
    hub.on('UserLeftGroup', (name, group) => showEvent('group', `${name} left ${group}`));

    hub.onreconnecting(() => setState('reconnecting', 'Connection lost, reconnecting…'));
    hub.onreconnected(() => setState('connected', `Connected as ${user}`));
    hub.onclose((error) => {
      if (connection === hub) connection = null;
      setState('disconnected', error ? `Disconnected: ${error.message}` : 'Disconnected');
    });
    return hub;
  }

  ui.connectForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const user = required(ui.user, 'a user name');
    if (!user || connection) return;
    connection = createConnection(user);
    setState('connecting', 'Connecting…');
    try {
      await connection.start();
      setState('connected', `Connected as ${user}`);
      ui.message.focus();
    } catch (error) {
      connection = null;
      setState('disconnected', 'Disconnected');
      showEvent('error', `Could not connect: ${error instanceof Error ? error.message : String(error)}`);
    }
  });

  ui.disconnect.addEventListener('click', async () => {
    if (connection) await connection.stop();
  });

  ui.messageForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = required(ui.message, 'a message');
    if (text && (await invoke('SendMessage', text))) ui.message.value = '';
  });

  ui.join.addEventListener('click', () => {
    const group = required(ui.group, 'a group name');
    if (group) invoke('JoinGroup', group);
  });

  ui.leave.addEventListener('click', () => {
    const group = required(ui.group, 'a group name');
    if (group) invoke('LeaveGroup', group);
  });

  ui.sendGroup.addEventListener('click', async () => {
    const group = required(ui.group, 'a group name');
    const text = group && required(ui.message, 'a message');
    if (text && (await invoke('SendToGroup', group, text))) ui.message.value = '';
  });

  ui.sendDirect.addEventListener('click', async () => {
    const to = required(ui.toUser, 'a user to send to');
    const text = to && required(ui.message, 'a message');
    if (text && (await invoke('SendToUser', to, text))) ui.message.value = '';
  });

  setState('disconnected', 'Disconnected');
  if (typeof signalR === 'undefined') {
    ui.status.dataset.state = 'error';
    ui.status.textContent = 'The SignalR client (/lib/signalr.min.js) failed to load.';
    ui.connect.disabled = true;
  }
})();
