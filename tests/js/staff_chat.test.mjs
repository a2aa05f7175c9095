// Drives the console's chat engine (moderation/src/chat/staffchat.js) with the stock npm
// socket.io-client against a real server, for tests/test_js_staff_chat.py, which plays
// the young person with the Python YouthClient, grants keys as the admin, and asserts.
//
// A line protocol on stdin/stdout, one JSON object per line:
//   in:  {"id": 1, "op": "new", "chat": "a", "args": {...}}   (ops below)
//   out: {"id": 1, "ok": <result>}  or  {"id": 1, "error": {"code", "message"}}
// Environment: HELPLINE_URL, HELPLINE_ORIGIN, HELPLINE_FINGERPRINT (the pin).
import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import { StaffChat } from "../../moderation/src/chat/staffchat.js";
import { b64urlDecode, b64urlEncode } from "../../widgets/src/crypto/index.js";

const URL = process.env.HELPLINE_URL;
const ORIGIN = process.env.HELPLINE_ORIGIN;
const PIN = process.env.HELPLINE_FINGERPRINT;
const chats = new Map();
const logs = new Map();
// Young people's key pins that outlive a StaffChat, as the console's DeviceStore does
// across reloads (IndexedDB itself is Chromium's: tests/browser/test_console_devicestore.py).
const pinStores = new Map();
const pinStore = (name) => {
  if (!pinStores.has(name)) {
    const m = new Map();
    pinStores.set(name, { map: m, get: async (cid) => m.get(cid) ?? null, set: async (cid, raw) => { m.set(cid, raw.slice()); } });
  }
  return pinStores.get(name);
};

function snapshot(name) {
  const chat = chats.get(name);
  return { username: chat.username, role: chat.role, connected: chat.connected,
           queueEntries: chat.queueEntries, events: logs.get(name) };
}

const ops = {
  new({ pin = PIN, pins = null } = {}, name) {
    const chat = new StaffChat({ url: URL, pinnedFingerprint: pin, io, youthPins: pins ? pinStore(pins) : null,
                                 socketOptions: { extraHeaders: { Origin: ORIGIN } } });
    const log = [];
    for (const type of ["queue", "message", "typing", "presence", "state", "epoch", "handover", "error", "disconnect"]) {
      chat.addEventListener(type, (e) => log.push({ type, detail: e.detail }));
    }
    chats.set(name, chat);
    logs.set(name, log);
    return true;
  },
  login: async (a, _n, chat) => { const r = await chat.login(a.username, a.password); return { username: r.username, role: r.role }; },
  connect: (_a, _n, chat) => chat.connect(),
  registerDevice: async (_a, _n, chat) => ({ ack: await chat.registerDevice(), fingerprints: await chat.fingerprints() }),
  loadGrants: (_a, _n, chat) => chat.loadGrants(),
  queue: (_a, _n, chat) => chat.queue(),
  held: (_a, _n, chat) => chat.held(),
  accept: (a, _n, chat) => chat.accept(a.conversationId),
  read: (a, _n, chat) => chat.read(a.conversationId),
  sendText: (a, _n, chat) => chat.sendText(a.conversationId, a.text),
  typing: (a, _n, chat) => chat.typing(a.conversationId, a.on),
  readers: (a, _n, chat) => chat.readers(a.conversationId),
  offerHandover: (a, _n, chat) => chat.offerHandover(a.conversationId),
  end: (a, _n, chat) => chat.end(a.conversationId),
  close: (_a, _n, chat) => { chat.close(); return true; },
  snapshot: (_a, name) => snapshot(name),
  conversationKeys: async (a, _n, chat) => (await chat.conversationKeys(a.conversationId)).youth_signing_key ?? null,
  getPin: (a) => { const raw = pinStore(a.pins).map.get(a.conversationId); return raw ? b64urlEncode(raw) : null; },
  setPin: (a) => { pinStore(a.pins).map.set(a.conversationId, b64urlDecode(a.key)); return true; },
};

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  const { id, op, chat: name, args } = JSON.parse(line);
  try {
    const fn = ops[op];
    if (!fn) throw Object.assign(new Error(`unknown op ${op}`), { code: "unknown_op" });
    const chat = chats.get(name);
    if (op !== "new" && !chat) throw Object.assign(new Error(`no chat ${name}`), { code: "no_chat" });
    const result = await fn(args ?? {}, name, chat);
    out({ id, ok: result === undefined ? null : result });
  } catch (e) {
    out({ id, error: { code: e?.code ?? "error", message: String(e?.stack ?? e) } });
  }
});
rl.on("close", () => {
  for (const chat of chats.values()) chat.close();
  process.exit(0);
});
out({ ready: true });
