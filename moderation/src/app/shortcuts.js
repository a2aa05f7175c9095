// Keyboard first: every action has a key. One list drives both the key handler and the
// help sheet (`?`), so the sheet cannot promise a key that does nothing. Letter keys go
// with Alt (matched on `event.code`, so a keyboard layout or macOS's Option characters
// do not change them); `?` and Escape work wherever the focus is not in a text field.
import * as desk from "./desk.js";
import { state, act, render } from "./state.js";

const inChat = () => (state.screen === "chat" ? state.chats.get(state.current) : null);
const counsellorChat = () => (state.role !== "police" ? inChat() : null);

function togglePanel(name) {
  state.panel = state.panel === name ? null : name;
  render();
}

export const SHORTCUTS = [
  { keys: "?", code: null, help: "key.help", run: () => togglePanel("help") },
  { keys: "Alt+Q", code: "KeyQ", help: "key.queue", run: () => {
    state.screen = state.role === "police" ? "requests" : "queue";
    state.current = null;
    state.panel = null;
    render();
  } },
  { keys: "Alt+N", code: "KeyN", help: "key.next", run: () => { desk.nextChat(); render(); } },
  { keys: "Alt+A", code: "KeyA", help: "key.accept",
    run: () => act(() => (state.role === "police" ? desk.joinFirst() : desk.acceptFirst())) },
  { keys: "Enter", code: null, help: "key.send", run: null }, // in the message field (chatview.js)
  { keys: "Shift+Enter", code: null, help: "key.newline", run: null },
  { keys: "/", code: null, help: "key.canned", run: null },
  { keys: "Alt+R", code: "KeyR", help: "key.referral", when: counsellorChat, run: () => togglePanel("referral") },
  { keys: "Alt+E", code: "KeyE", help: "key.end", when: inChat, run: () => {
    const c = inChat();
    if (state.role === "police") act(() => desk.leave(c.id));
    else if (!c.ended) act(() => desk.end(c));
  } },
  { keys: "Alt+W", code: "KeyW", help: "key.wrapup", when: counsellorChat, run: () => togglePanel("wrapup") },
  { keys: "Alt+P", code: "KeyP", help: "key.police", when: counsellorChat,
    run: () => act(() => desk.offerPolice(inChat())) },
  { keys: "Alt+I", code: "KeyI", help: "key.invite", when: () => state.role !== "police",
    run: () => act(desk.makeInvite) },
  { keys: "Escape", code: null, help: "key.escape", run: () => { state.panel = null; render(); } },
];

const WORKING = new Set(["queue", "chat", "requests"]);
const typingIn = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT"
  || (el.tagName === "INPUT" && !["button", "checkbox", "radio", "range"].includes(el.type)));

export function onKey(e) {
  if (!state.chat || !WORKING.has(state.screen)) return;
  let hit = null;
  if (e.altKey && !e.ctrlKey && !e.metaKey) hit = SHORTCUTS.find((s) => s.code && s.code === e.code);
  else if (e.key === "Escape" && state.panel) hit = SHORTCUTS.find((s) => s.keys === "Escape");
  else if (e.key === "?" && !typingIn(e.target)) hit = SHORTCUTS[0];
  if (!hit || (hit.when && !hit.when())) return;
  e.preventDefault();
  hit.run();
}
