// Drives the widget's chat engine (widgets/src/chat/client.js) with the stock npm
// socket.io-client against a real server, for tests/test_js_youth_chat.py, which plays
// the counsellor (and the police) with the Python StaffClient and asserts.
//
// A line protocol on stdin/stdout, one JSON object per line:
//   in:  {"id": 1, "op": "new", "chat": "a", "args": {...}}   (ops below)
//   out: {"id": 1, "ok": <result>}  or  {"id": 1, "error": {"code", "message"}}
// Environment: HELPLINE_URL, HELPLINE_ORIGIN, HELPLINE_FINGERPRINT (the pin).
import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import { YouthChat } from "../../widgets/src/chat/client.js";

const URL = process.env.HELPLINE_URL;
const ORIGIN = process.env.HELPLINE_ORIGIN;
const PIN = process.env.HELPLINE_FINGERPRINT;
const chats = new Map();
const logs = new Map();

function snapshot(name) {
  const chat = chats.get(name);
  return {
    state: chat.state, position: chat.position, queueLength: chat.queueLength, prompt: chat.prompt,
    readers: chat.readers, messages: chat.messages, offer: chat.offer && { ...chat.offer, statement: undefined },
    handover: chat.handover, connected: chat.connected, online: chat.online, conversationId: chat.conversationId,
    notice: chat.notice, teamKeyVerified: chat.teamKeyVerified, events: logs.get(name),
  };
}

const ops = {
  new({ pin = PIN, consentSeconds, revocationCheckMs } = {}, name) {
    const chat = new YouthChat({ url: URL, pinnedFingerprint: pin, io, consentSeconds, revocationCheckMs,
                                 socketOptions: { extraHeaders: { Origin: ORIGIN } } });
    const log = [];
    for (const type of ["message", "typing", "error", "urgent", "code_used"]) {
      chat.addEventListener(type, (e) => log.push({ type, detail: e.detail }));
    }
    chats.set(name, chat);
    logs.set(name, log);
    return true;
  },
  connect: (_a, _n, chat) => chat.connect(),
  open: (a, _n, chat) => chat.open(a),
  answerIntake: (a, _n, chat) => chat.answerIntake(a),
  skipIntake: (_a, _n, chat) => chat.skipIntake(),
  sendText: (a, _n, chat) => chat.sendText(a.text),
  // Several sends without waiting for each ack: they must keep their order.
  sendMany: (a, _n, chat) => Promise.all(a.texts.map((t) => chat.sendText(t))),
  // Send, and drop the connection right after the packet is written, before its ack
  // can come back (engine.io flushes its write buffer, then closes): the ack is lost.
  // Resolves once stored; `sends` counts the emits of `send` (2: the resend after resume).
  sendAndDrop: async (a, _n, chat) => {
    const call = chat._call.bind(chat);
    let sends = 0;
    chat._call = (event, payload, timeout) => {
      const pending = call(event, payload, timeout);
      if (event === "send" && ++sends === 1) chat._socket.io.engine.close();
      return pending;
    };
    try {
      return { ...(await chat.sendText(a.text)), sends };
    } finally {
      chat._call = call;
    }
  },
  sendSignal: (a, _n, chat) => chat.sendSignal(a.signal),
  typing: (a, _n, chat) => chat.typing(a.on),
  end: (a, _n, chat) => chat.end(a),
  requestReturnCode: (_a, _n, chat) => chat.requestReturnCode(),
  destroyReturnCode: (_a, _n, chat) => chat.destroyReturnCode(),
  resumeWithCode: (a, _n, chat) => chat.resumeWithCode(a.code).then(() => true),
  answerHandover: (a, _n, chat) => chat.answerHandover(a),
  withdrawHandover: (_a, _n, chat) => chat.withdrawHandover(),
  // Drop the transport (as a network cut does); socket.io-client reconnects by itself.
  drop: (_a, _n, chat) => { chat._socket.io.engine.close(); return true; },
  close: (_a, _n, chat) => { chat.close(); return true; },
  snapshot: (_a, name) => snapshot(name),
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
