// The chat's state as a reducer over hub events and the user's own actions: conversations
// (everyone, groups, direct), unread counts, who is online and group members. Pure: tested
// without a browser.

export type ConversationId = 'all' | `group:${string}` | `user:${string}`;

export interface ChatLine {
  id: number;
  conversation: ConversationId;
  kind: 'message' | 'notice' | 'error';
  from?: string;
  text: string;
  at: number;
  mine: boolean;
}

export interface ChatState {
  me: string;
  lines: ChatLine[];
  selected: ConversationId;
  unread: Partial<Record<ConversationId, number>>;
  /** Groups this tab joined, in join order. */
  groups: string[];
  /** Direct conversations, most recent first. */
  directs: string[];
  /** Users online on any instance (presence), sorted. */
  online: string[];
  /** User ids in each joined group (presence), sorted. */
  members: Record<string, string[]>;
  /** Direct messages this tab sent and has not seen echoed yet: [to, text]. */
  pendingDirect: Array<[string, string]>;
  nextId: number;
}

/** Lines kept in memory: a long-open demo tab stays small. */
export const MAX_LINES = 500;

export type ChatAction =
  | { type: 'received'; from: string; text: string; at: number }
  | { type: 'receivedGroup'; group: string; from: string; text: string; at: number }
  | { type: 'receivedDirect'; from: string; text: string; at: number }
  | { type: 'sentDirect'; to: string; text: string }
  | { type: 'notice'; conversation?: ConversationId; text: string; at: number }
  | { type: 'error'; text: string; at: number }
  | { type: 'joined'; group: string }
  | { type: 'left'; group: string }
  | { type: 'userJoinedGroup'; user: string; group: string; at: number }
  | { type: 'userLeftGroup'; user: string; group: string; at: number }
  | { type: 'online'; users: string[] }
  | { type: 'userOnline'; user: string }
  | { type: 'userOffline'; user: string }
  | { type: 'members'; group: string; users: string[] }
  | { type: 'select'; conversation: ConversationId };

export function initialChat(me: string): ChatState {
  return {
    me,
    lines: [],
    selected: 'all',
    unread: {},
    groups: [],
    directs: [],
    online: [],
    members: {},
    pendingDirect: [],
    nextId: 1,
  };
}

/** Where a direct message from this tab's own user goes when no tab of ours is waiting for it. */
export const OTHER_TAB: ConversationId = 'user:';

function append(state: ChatState, line: Omit<ChatLine, 'id'>): ChatState {
  const lines = [...state.lines, { ...line, id: state.nextId }];
  const unread =
    line.conversation === state.selected || line.mine || line.kind !== 'message'
      ? state.unread
      : { ...state.unread, [line.conversation]: (state.unread[line.conversation] ?? 0) + 1 };
  return {
    ...state,
    lines: lines.length > MAX_LINES ? lines.slice(lines.length - MAX_LINES) : lines,
    unread,
    nextId: state.nextId + 1,
  };
}

const sortedUnique = (users: Iterable<string>) => [...new Set(users)].sort();

function withDirect(state: ChatState, user: string): ChatState {
  return { ...state, directs: [user, ...state.directs.filter((u) => u !== user)] };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'received':
      return append(state, {
        conversation: 'all',
        kind: 'message',
        from: action.from,
        text: action.text,
        at: action.at,
        mine: action.from === state.me,
      });
    case 'receivedGroup':
      return append(state, {
        conversation: `group:${action.group}`,
        kind: 'message',
        from: action.from,
        text: action.text,
        at: action.at,
        mine: action.from === state.me,
      });
    case 'sentDirect':
      return withDirect({ ...state, pendingDirect: [...state.pendingDirect, [action.to, action.text]] }, action.to);
    case 'receivedDirect': {
      // The hub echoes a direct message to every connection of its sender, without naming the
      // recipient: this tab matches the echo to what it sent; another tab of ours cannot know.
      if (action.from === state.me) {
        const index = state.pendingDirect.findIndex(([, text]) => text === action.text);
        const to = index >= 0 ? state.pendingDirect[index]?.[0] : undefined;
        const pendingDirect = index >= 0 ? state.pendingDirect.filter((_, i) => i !== index) : state.pendingDirect;
        const conversation: ConversationId = to !== undefined ? `user:${to}` : OTHER_TAB;
        return append({ ...state, pendingDirect }, {
          conversation,
          kind: 'message',
          from: action.from,
          text: action.text,
          at: action.at,
          mine: true,
        });
      }
      return append(withDirect(state, action.from), {
        conversation: `user:${action.from}`,
        kind: 'message',
        from: action.from,
        text: action.text,
        at: action.at,
        mine: false,
      });
    }
    case 'notice':
      return append(state, {
        conversation: action.conversation ?? 'all',
        kind: 'notice',
        text: action.text,
        at: action.at,
        mine: false,
      });
    case 'error':
      return append(state, { conversation: state.selected, kind: 'error', text: action.text, at: action.at, mine: false });
    case 'joined':
      return state.groups.includes(action.group)
        ? { ...state, selected: `group:${action.group}` }
        : { ...state, groups: [...state.groups, action.group], selected: `group:${action.group}` };
    case 'left': {
      const members = { ...state.members };
      delete members[action.group];
      const conversation: ConversationId = `group:${action.group}`;
      return {
        ...state,
        groups: state.groups.filter((g) => g !== action.group),
        members,
        selected: state.selected === conversation ? 'all' : state.selected,
      };
    }
    case 'userJoinedGroup':
      return append(state, {
        conversation: `group:${action.group}`,
        kind: 'notice',
        text: `${action.user} joined ${action.group}`,
        at: action.at,
        mine: false,
      });
    case 'userLeftGroup':
      return append(state, {
        conversation: `group:${action.group}`,
        kind: 'notice',
        text: `${action.user} left ${action.group}`,
        at: action.at,
        mine: false,
      });
    case 'online':
      return { ...state, online: sortedUnique(action.users) };
    // Once per user cluster-wide; the connection notices (UserConnected) say it in the timeline.
    case 'userOnline':
      return { ...state, online: sortedUnique([...state.online, action.user]) };
    case 'userOffline':
      return { ...state, online: state.online.filter((u) => u !== action.user) };
    case 'members':
      return state.groups.includes(action.group)
        ? { ...state, members: { ...state.members, [action.group]: sortedUnique(action.users) } }
        : state;
    case 'select': {
      const unread = { ...state.unread };
      delete unread[action.conversation];
      const directs =
        action.conversation.startsWith('user:') && action.conversation !== OTHER_TAB
          ? withDirect(state, action.conversation.slice(5)).directs
          : state.directs;
      return { ...state, selected: action.conversation, unread, directs };
    }
  }
}

/** The lines of one conversation, oldest first. */
export function linesOf(state: ChatState, conversation: ConversationId): ChatLine[] {
  return state.lines.filter((line) => line.conversation === conversation);
}

/** A conversation's title as the sidebar shows it. */
export function titleOf(conversation: ConversationId): string {
  if (conversation === 'all') return 'Everyone';
  if (conversation === OTHER_TAB) return 'Sent from another tab';
  if (conversation.startsWith('group:')) return `# ${conversation.slice(6)}`;
  return `@ ${conversation.slice(5)}`;
}
