// The counsellor console's chat engine: the JavaScript port of helpline/client/staff.py
// (StaffClient) and helpline/client/e2e.py (ConversationCrypto), written from
// docs/protocol.md (sections 4, 5, 6a, 8 "The console") and docs/crypto.md. Keys and
// plaintext live in memory only (close() wipes them).
//
// The socket.io client is injected (`io` of npm socket.io-client), as for YouthChat:
//   const chat = new StaffChat({ url, pinnedFingerprint, io });
//   await chat.login(username, password); await chat.connect();
//   await chat.registerDevice();  // show chat.fingerprints to the admin, who approves and grants
//   await chat.loadGrants(); await chat.queue(); await chat.accept(cid);
//   await chat.read(cid); await chat.sendText(cid, "hello");
//
// Events (EventTarget; `detail` on the event):
//   "queue"     the queue changed (detail {entries}, also in `queueEntries`)
//   "message"   a message was decrypted, or refused (detail: the entry, with conversationId)
//   "typing"    detail {conversationId, role, typing}
//   "presence"  detail {conversationId, role, online}
//   "state"     detail: the server's `state` event ({conversation_id, state, ...})
//   "epoch"     detail {conversationId, epoch}: the young person started a new epoch
//   "handover"  detail: the server's `handover` event
//   "assignment" detail: the server's `assignment` event
//   "disconnect" detail {reason}; "io server disconnect" means: sign in again
//   "error"     detail {code, message}: a background step failed (resync, a live read)
import {
  CryptoError, b64urlDecode, b64urlEncode, checkSendable, equalBytes, hexEncode, readPlaintext,
  readReferral, readerKinds, referralPlaintext, staffRefusalAt, textPlaintext,
} from "../../../widgets/src/crypto/index.js";
import { Transcript } from "../../../widgets/src/chat/transcript.js";
import { StaffKeyring } from "../crypto/staffkeyring.js";

/** A refusal from the server (`code` from docs/protocol.md, section 7) or of this client. */
export class ChatError extends Error {
  constructor(code, message) {
    super(`${code}: ${message ?? code}`);
    this.name = "ChatError";
    this.code = code;
  }
}

const now = () => Math.floor(Date.now() / 1000);
const randomId = () => (globalThis.crypto.randomUUID ? globalThis.crypto.randomUUID()
  : b64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(16))));
const QUEUE_ROLES = new Set(["counsellor", "supervisor"]);

class DetailEvent extends Event {
  constructor(type, detail) { super(type); this.detail = detail; }
}

/** Serialise async steps: each runs after the previous one settled. */
class Chain {
  constructor() { this._tail = Promise.resolve(); }
  run(fn) {
    const step = this._tail.then(fn);
    this._tail = step.catch(() => {});
    return step;
  }
}

/** A refused body, as e2e.py's refused_record. */
function refusedEntry(env, code) {
  return { seq: env.seq, role: env.sender_role, sentAt: env.sent_at, sender: null, mine: false,
           kind: null, text: null, signal: null, error: code };
}

/**
 * One conversation's reader and what it has opened so far (e2e.py ConversationCrypto):
 * opens new envelopes in seq order, rebuilds the reader from fresh conversation_keys
 * once when a new epoch or participant appears, and reports a body that fails a check
 * with the error's code: one bad body does not hide the rest. Reads are serialised.
 */
class ConversationCrypto {
  constructor(conversationId, fetchKeys, makeReader, mySigningDigest) {
    this.conversationId = conversationId;
    this._fetchKeys = fetchKeys;
    this._makeReader = makeReader;
    this._mine = mySigningDigest;
    this.keys = null;
    this.reader = null;
    this.opened = [];
    this._chain = new Chain();
  }

  /** Fetch the keys again and re-read from the start with a new reader. */
  refresh() { return this._chain.run(() => this._refresh()); }

  async _refresh() {
    this.keys = await this._fetchKeys();
    this.reader = await this._makeReader(this.keys);
    this.opened = [];
  }

  /** Open every envelope not opened yet (in seq order, gap-free); returns a copy. */
  read(envelopes) { return this._chain.run(() => this._read(envelopes)); }

  async _read(envelopes) {
    if (this.reader === null) await this._refresh();
    let refreshed = false;
    while (this.opened.length < envelopes.length) {
      const env = envelopes[this.opened.length];
      try {
        this.opened.push(await this._open(env));
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        if (e.code === "unknown_sender" || e.code === "wrong_epoch") {
          if (!refreshed) { // a new epoch or participant: fetch the keys once and read again
            refreshed = true;
            await this._refresh();
            continue;
          }
          this.opened.push(refusedEntry(env, "unknown_sender_or_epoch"));
        } else {
          this.opened.push(refusedEntry(env, e.code));
        }
      }
    }
    return this.opened.map((e) => ({ ...e }));
  }

  async _open(env) {
    const { message } = await this.reader.open(b64urlDecode(env.body));
    if (message.role !== env.sender_role) return refusedEntry(env, "role_mismatch");
    const sender = this.reader.sender(message.senderFingerprint);
    // A staff statement's window and the revocation are checked at the time the server
    // stamped (docs/crypto.md, "Revocation list": what a lying server can do).
    const refusal = staffRefusalAt(sender, Math.floor(env.sent_at / 1000));
    if (refusal) return refusedEntry(env, refusal);
    const data = readPlaintext(message.plaintext);
    const kind = data.type;
    const entry = { seq: env.seq, role: env.sender_role, sentAt: env.sent_at, sender: sender?.name ?? null,
                    mine: message.senderFingerprint === this._mine, kind, text: null, signal: null, error: null };
    entry.text = kind === "text" && typeof data.text === "string" ? data.text : `[${kind}]`;
    if (kind === "signal" && typeof data.signal === "string") entry.signal = data.signal;
    if (kind === "intake" && Array.isArray(data.answers)) entry.answers = data.answers;
    if (kind === "referral") entry.referral = readReferral(data); // a malformed card: bad_encoding
    return entry;
  }
}

export class StaffChat extends EventTarget {
  /**
   * url: the server origin; pinnedFingerprint: the organisation key's fingerprint this
   * console is built with; io: socket.io-client's `io`; fetch: for POST /api/login
   * (default globalThis.fetch); keyring: an existing StaffKeyring (else registerDevice
   * makes one); socketOptions: extra options for `io` (Node tests pass
   * `extraHeaders: {Origin}`); callTimeoutMs: how long a call waits for its ack;
   * youthPins: where young people's signing keys stay pinned across reloads (async
   * get(cid) -> raw or null, set(cid, raw); e.g. the DeviceStore), besides memory.
   */
  constructor({ url, pinnedFingerprint, io, fetch = (...a) => globalThis.fetch(...a), keyring = null, namespace = "/staff",
                socketOptions = {}, callTimeoutMs = 20_000, youthPins = null } = {}) {
    super();
    if (typeof io !== "function") throw new TypeError("StaffChat needs socket.io-client's io function");
    this._origin = url.replace(/\/+$/, "");
    this._namespace = namespace;
    this._io = io;
    this._fetch = fetch; // called as a method: the default wraps the window's fetch,
    // which refuses any `this` but the window ("Illegal invocation")
    this._pin = pinnedFingerprint;
    this._socketOptions = socketOptions;
    this._timeout = callTimeoutMs;
    this.keyring = keyring;
    this._socket = null;
    this._token = null;
    this._username = keyring?.username ?? null;
    this._role = null;
    this._connects = 0;
    this._queueEntries = [];
    this._leftQueue = new Set(); // a conversation that left the queue never comes back to it
    this._transcripts = new Map();
    this._crypto = new Map();
    this._announced = new Map(); // conversation id -> entries already emitted as "message"
    this._youthKeys = new Map(); // first seen per conversation (pinned)
    this._youthPins = youthPins;
    this._sendChains = new Map();
    this._filling = new Map();
    this._closed = false;
  }

  // -- getters --------------------------------------------------------------------------
  get username() { return this._username; }
  get role() { return this._role; }
  get connected() { return !!this._socket?.connected; }
  get queueEntries() { return this._queueEntries.map((e) => ({ ...e })); }
  /** The envelopes of a conversation so far, in seq order. */
  messages(conversationId) { return this._transcript(conversationId).envelopes; }

  // -- signing in and connecting --------------------------------------------------------
  /** POST /api/login; returns {token, expires_at, username, role} or raises ChatError. */
  async login(username, password) {
    let res, data;
    try {
      res = await this._fetch(`${this._origin}/api/login`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password }), credentials: "omit", cache: "no-store",
      });
      data = await res.json();
    } catch (e) {
      throw new ChatError("login_failed", String(e?.message ?? e));
    }
    if (data?.error) throw new ChatError(data.error.code, data.error.message);
    if (!res.ok || typeof data?.token !== "string") throw new ChatError("bad_answer", `login answered ${res.status}`);
    this._token = data.token;
    this._expiresAt = data.expires_at;
    this._username = data.username;
    this._role = data.role;
    return data;
  }

  /** GET /api/canned: the canned answers in `language` (the server's default without
   *  one); returns {language, languages, answers: [{id, title, text, tags}]}. */
  async canned(language = null) {
    if (!this._token) throw new ChatError("unauthorized", "login() first");
    const query = language ? `?language=${encodeURIComponent(language)}` : "";
    let res, data;
    try {
      res = await this._fetch(`${this._origin}/api/canned${query}`, {
        headers: { Authorization: `Bearer ${this._token}` }, credentials: "omit", cache: "no-store",
      });
      data = await res.json();
    } catch (e) {
      throw new ChatError("canned_failed", String(e?.message ?? e));
    }
    if (data?.error) throw new ChatError(data.error.code, data.error.message);
    if (!res.ok || !Array.isArray(data?.answers)) throw new ChatError("bad_answer", `canned answered ${res.status}`);
    return data;
  }

  /** GET /api/referrals with optional {q, region, kind}: {referrals, regions, kinds}. */
  async referrals({ q = "", region = "", kind = "" } = {}) {
    const params = new URLSearchParams();
    if (q.trim()) params.set("q", q.trim().slice(0, 100));
    if (region) params.set("region", region);
    if (kind) params.set("kind", kind);
    const query = params.size ? `?${params}` : "";
    return this._getJson(`/api/referrals${query}`, "referrals");
  }

  /** The anonymous statistics (GET /api/stats, supervisor or admin): {rows}. */
  stats() { return this._getJson("/api/stats", "rows"); }

  /** The statistics export as a file's text: format "csv" or "json". */
  async statsFile(format) {
    const { res, text } = await this._get(`/api/stats?format=${format === "csv" ? "csv" : "json"}`);
    if (!res.ok) {
      let err = null;
      try { err = JSON.parse(text).error; } catch { /* not JSON */ }
      throw new ChatError(err?.code ?? "bad_answer", err?.message ?? `/api/stats answered ${res.status}`);
    }
    return text;
  }

  /** A page of the audit log (admin): {entries, total, checkpoints, audit_key}. */
  audit({ start = 0, limit = 500 } = {}) {
    return this._getJson(`/api/audit?start=${Math.max(0, Math.floor(start))}&limit=${Math.min(1000, Math.max(1, Math.floor(limit)))}`, "entries");
  }

  /** The whole chain and the checkpoint file checked by the server (admin). */
  auditVerify() { return this._getJson("/api/audit/verify", "entries", (v) => typeof v === "number"); }

  async _get(path) {
    if (!this._token) throw new ChatError("unauthorized", "login() first");
    try {
      const res = await this._fetch(`${this._origin}${path}`, {
        headers: { Authorization: `Bearer ${this._token}` }, credentials: "omit", cache: "no-store",
      });
      return { res, text: await res.text() };
    } catch (e) {
      throw new ChatError("fetch_failed", String(e?.message ?? e));
    }
  }

  async _getJson(path, field, check = Array.isArray) {
    const { res, text } = await this._get(path);
    let data;
    try { data = JSON.parse(text); } catch { throw new ChatError("bad_answer", `${path} answered ${res.status}`); }
    if (data?.error) throw new ChatError(data.error.code, data.error.message);
    if (!res.ok || !check(data?.[field])) throw new ChatError("bad_answer", `${path} answered ${res.status}`);
    return data;
  }

  /**
   * Sign in again as the same person before (or after) the session ends, keeping keys,
   * transcripts and decrypted chats: a new session, a new socket on it (which catches up
   * with what it missed, as after any reconnect), then the old session is logged out.
   */
  async renew(password) {
    const old = this._token, oldExpires = this._expiresAt ?? 0;
    const data = await this.login(this._username, password);
    const socket = this._socket;
    this._socket = null;
    socket?.removeAllListeners();
    socket?.disconnect();
    await this.connect();
    // A session that has run out needs no logout (the server would answer 401).
    if (old && old !== this._token && oldExpires > Date.now()) await this._logout(old).catch(() => {});
    return data;
  }

  /** POST /api/logout: the session ends on the server too (every socket on it drops). */
  async logout() {
    const token = this._token;
    if (token && (this._expiresAt ?? Infinity) > Date.now()) await this._logout(token).catch(() => {});
  }

  async _logout(token) {
    await this._fetch(`${this._origin}/api/logout`, {
      method: "POST", headers: { Authorization: `Bearer ${token}` }, credentials: "omit", cache: "no-store",
    });
  }

  /** Connect /staff with the token in `auth` (never in the URL). */
  async connect(token = null) {
    if (this._closed) throw new ChatError("closed", "this console was closed");
    this._token = token ?? this._token;
    if (!this._token) throw new ChatError("unauthorized", "login() first");
    if (this._socket) {
      if (this._socket.connected) return;
      this._socket.removeAllListeners();
      this._socket.disconnect();
    }
    const socket = this._io(this._origin + this._namespace, {
      transports: ["websocket"], forceNew: true, reconnectionDelay: 500, reconnectionDelayMax: 5000,
      ...this._socketOptions, auth: (cb) => cb({ token: this._token }),
    });
    this._socket = socket;
    socket.on("connect", () => this._onConnect());
    socket.on("disconnect", (reason) => this._emit("disconnect", { reason }));
    socket.on("message", (env) => this._onEnvelope(env));
    socket.on("queue", (d) => this._onQueue(d));
    socket.on("epoch", (d) => this._onEpoch(d));
    socket.on("typing", (d) => this._emit("typing", { conversationId: d?.conversation_id, role: d?.role, typing: !!d?.typing }));
    socket.on("presence", (d) => this._emit("presence", { conversationId: d?.conversation_id, role: d?.role, online: !!d?.online }));
    socket.on("state", (d) => this._emit("state", d));
    socket.on("handover", (d) => this._emit("handover", d));
    socket.on("handover_requests", (d) => this._emit("handover_requests", d ?? {}));
    socket.on("assignment", (d) => this._onAssignment(d));
    socket.on("resync", () => this._resync());
    await new Promise((resolve, reject) => {
      if (socket.connected) return resolve();
      const ok = () => { socket.off("connect_error", bad); resolve(); };
      const bad = (err) => {
        socket.off("connect", ok);
        reject(new ChatError(err?.data?.code ?? "connect_failed", String(err?.message ?? err)));
      };
      socket.once("connect", ok);
      socket.once("connect_error", bad);
    });
  }

  _onConnect() {
    this._connects += 1;
    if (this._connects > 1) this._resync(); // after a reconnect: catch up on what was missed
  }

  /** After a reconnect or `resync`: every held conversation's gap, then the queue. */
  async _resync() {
    try {
      for (const conv of await this.held()) await this._fillGap(conv.conversation_id);
      if (QUEUE_ROLES.has(this._role)) await this.queue();
    } catch (e) {
      this._error(e, "resync_failed");
    }
  }

  async call(event, payload = {}, timeout = this._timeout) {
    const socket = this._socket;
    if (!socket) throw new ChatError("not_connected", "connect() first");
    let ack;
    try {
      ack = await socket.timeout(timeout).emitWithAck(event, payload);
    } catch (e) {
      throw new ChatError("no_ack", String(e?.message ?? e));
    }
    if (ack && ack.error) throw new ChatError(ack.error.code, ack.error.message);
    if (!ack || typeof ack.ok !== "object" || ack.ok === null) throw new ChatError("bad_ack", "unexpected ack");
    return ack.ok;
  }

  whoami() { return this.call("whoami"); }

  // -- device keys ----------------------------------------------------------------------
  /**
   * Tell the server this device's public keys (made here on first use); an admin then
   * approves the fingerprints (read off `fingerprints`) and grants keys to the device.
   * Returns the ack {encryption_fingerprint, signing_fingerprint, changed}; refuses
   * (`key_mismatch`) if the server's fingerprints are not this device's.
   */
  async registerDevice() {
    if (!this.keyring) {
      if (!this._username) throw new ChatError("unauthorized", "login() first");
      this.keyring = await StaffKeyring.generate(this._username, this._pin);
    }
    const r = await this.call("register_device", this.keyring.registration());
    const mine = await this.keyring.fingerprints();
    if (r.encryption_fingerprint !== mine.encryption || r.signing_fingerprint !== mine.signing) {
      throw new ChatError("key_mismatch", "the server registered other keys than this device's");
    }
    return r;
  }

  /** This device's fingerprints {encryption, signing}, to read to the admin. */
  async fingerprints() { return this._keyring().fingerprints(); }

  /** Unlock the team (or police) keys granted to this device; returns the subjects. */
  async loadGrants() {
    return this._keyring().loadGrants(await this.call("keys"));
  }

  // -- the queue and conversations ------------------------------------------------------
  async queue() {
    const { entries } = await this.call("queue");
    for (const e of entries) this._leftQueue.delete(e.conversation_id);
    this._queueEntries = entries;
    this._emit("queue", { entries: this.queueEntries });
    return this.queueEntries;
  }

  _onQueue(data) {
    // Changes from several server processes may arrive out of order; a conversation that
    // left never joins again, so remembering who left makes the order moot.
    for (const cid of data?.left ?? []) this._leftQueue.add(cid);
    const byId = new Map();
    for (const e of [...this._queueEntries, ...(data?.joined ?? [])]) {
      if (!this._leftQueue.has(e.conversation_id)) byId.set(e.conversation_id, e);
    }
    const ordered = [...byId.values()].sort((a, b) => a.order - b.order
      || (a.conversation_id < b.conversation_id ? -1 : a.conversation_id > b.conversation_id ? 1 : 0));
    this._queueEntries = ordered.map((e, i) => ({ ...e, position: i + 1 }));
    this._emit("queue", { entries: this.queueEntries });
  }

  async held() { return (await this.call("held")).conversations; }

  /** Take a queued conversation, then fetch what the young person wrote while waiting. */
  async accept(conversationId) {
    const r = await this.call("accept", { conversation_id: conversationId });
    await this._fillGap(conversationId);
    return r.conversation;
  }

  history(conversationId, afterSeq = 0, limit = null) {
    const payload = { conversation_id: conversationId, after_seq: afterSeq };
    if (limit) payload.limit = limit;
    return this.call("history", payload);
  }

  async typing(conversationId, on) {
    await this.call("typing", { conversation_id: conversationId, typing: !!on });
  }

  async end(conversationId) { return (await this.call("end", { conversation_id: conversationId })).state; }

  async wrapup(conversationId, { form, ageBand, referral }) {
    return (await this.call("wrapup", { conversation_id: conversationId, form, age_band: ageBand, referral })).state;
  }

  // -- end-to-end encryption ------------------------------------------------------------
  /** conversation_keys, with the young person's signing key pinned on first sight. */
  async conversationKeys(conversationId) {
    const keys = await this.call("conversation_keys", { conversation_id: conversationId });
    const youth = keys.youth_signing_key;
    if (youth) {
      // Trust on first use: a young person's key never changes within a chat.
      const raw = b64urlDecode(youth);
      // A key pinned before a reload comes first; a new pin is kept there too.
      if (!this._youthKeys.has(conversationId) && this._youthPins) {
        const stored = await this._youthPins.get(conversationId);
        if (stored && !this._youthKeys.has(conversationId)) this._youthKeys.set(conversationId, stored);
        if (!stored) {
          await this._youthPins.set(conversationId, raw).catch((e) => {
            throw e?.code === "key_changed" ? new ChatError("key_changed", "the young person's signing key changed: not trusted") : e;
          });
        }
      }
      if (!this._youthKeys.has(conversationId)) this._youthKeys.set(conversationId, raw);
      const first = this._youthKeys.get(conversationId);
      if (!equalBytes(first, raw)) throw new ChatError("key_changed", "the young person's signing key changed: not trusted");
    }
    return keys;
  }

  /** Fetch the history this console does not have yet (after a reload: for each of
   *  `held`), then read it all: every message so far, decrypted and verified. */
  async load(conversationId) {
    await this._fillGap(conversationId);
    return this.read(conversationId);
  }

  /** Every message so far, decrypted and verified, in order. */
  async read(conversationId) {
    const crypto = await this._cryptoFor(conversationId);
    const opened = await crypto.read(this.messages(conversationId));
    this._announce(conversationId, opened);
    return opened;
  }

  /**
   * Encrypt under the newest epoch the young person signed for this device, sign, send.
   * The current epoch (as the server reports it, or a later one the transcript shows)
   * is used only if its statement verifies against the young person's key, names this
   * device's unit key, commits to the unwrapped key, and its police consent (if any) is
   * live; otherwise nothing is sent and the reason is raised (`epoch_unverified`,
   * `not_a_reader`, `key_mismatch`, `consent_lapsed`, `no_keys`). Resolves {seq, sent_at}.
   */
  sendText(conversationId, text) {
    if (typeof text !== "string" || text.length === 0) return Promise.reject(new ChatError("invalid_payload", "empty message"));
    return this._sendPlaintext(conversationId, textPlaintext(text));
  }

  /**
   * Send a referral card {id, name, kind, what, phones: [{number, label}], url, hours}
   * (widgets/src/crypto/plaintext.js) as sendText sends a text; the widget shows it as a
   * card. A malformed card is refused with `invalid_payload` and nothing is sent.
   */
  sendReferral(conversationId, card) {
    let plaintext;
    try {
      plaintext = referralPlaintext(card);
    } catch (e) {
      return Promise.reject(e instanceof CryptoError ? new ChatError("invalid_payload", e.message) : e);
    }
    return this._sendPlaintext(conversationId, plaintext);
  }

  _sendPlaintext(conversationId, plaintext) {
    let chain = this._sendChains.get(conversationId);
    if (!chain) this._sendChains.set(conversationId, chain = new Chain());
    return chain.run(async () => {
      const crypto = await this._cryptoFor(conversationId);
      await crypto.read(this.messages(conversationId));
      const ring = this._keyring();
      const verified = await ring.verifiedEpochs(conversationId, crypto.keys);
      const epoch = Math.max(Number(crypto.keys.epoch) || 0, crypto.reader.highestEpochSeen);
      if (!verified.keys.has(epoch)) {
        const refused = verified.refused.get(epoch);
        if (refused) throw new ChatError(refused.code, refused.message); // a key is there, but not one to trust
        throw new ChatError("no_keys", "this device holds no key for the current epoch");
      }
      try {
        checkSendable(verified.statements.get(epoch), now());
      } catch (e) {
        if (e instanceof CryptoError) throw new ChatError(e.code, e.message);
        throw e;
      }
      const role = this._role === "police" ? "police" : "counsellor";
      const counter = crypto.reader.nextCounter(hexEncode(await ring.signing.public.digest()), epoch);
      const sealer = ring.sealer(conversationId, epoch, verified.keys.get(epoch), role, counter);
      const body = b64urlEncode(await sealer.seal(plaintext));
      const r = await this.call("send", { conversation_id: conversationId, body, client_msg_id: randomId() });
      // No echo from the server: add our own envelope from the ack.
      this._takeEnvelope({ conversation_id: conversationId, seq: r.seq, sender_role: role, sent_at: r.sent_at, body }, false);
      await this.read(conversationId); // count our own message
      return { seq: r.seq, sent_at: r.sent_at };
    });
  }

  /**
   * Who can read the conversation's newest verified epoch, as the young person signed
   * it: ["team"] or ["team", "police"] (fresh conversation_keys).
   */
  async readers(conversationId) {
    const crypto = await this._cryptoFor(conversationId);
    await crypto.refresh();
    const latest = (await this._keyring().verifiedEpochs(conversationId, crypto.keys ?? {})).latest();
    return latest ? readerKinds(latest) : [];
  }

  // -- police handover ------------------------------------------------------------------
  offerHandover(conversationId) { return this.call("handover_offer", { conversation_id: conversationId }); }
  endHandover(conversationId) { return this.call("handover_end", { conversation_id: conversationId }); }
  createInvite() { return this.call("invite_create"); }
  async handoverRequests() { return (await this.call("handover_requests")).requests; }

  async policeJoin(conversationId) {
    const r = await this.call("police_join", { conversation_id: conversationId });
    await this._fillGap(conversationId);
    return r;
  }

  policeLeave(conversationId) { return this.call("police_leave", { conversation_id: conversationId }); }

  // -- envelopes ------------------------------------------------------------------------
  _transcript(conversationId) {
    let t = this._transcripts.get(conversationId);
    if (!t) this._transcripts.set(conversationId, t = new Transcript());
    return t;
  }

  _onEnvelope(env) {
    if (!env || typeof env.conversation_id !== "string") return;
    this._takeEnvelope(env, true);
  }

  _takeEnvelope(env, readNow) {
    const cid = env.conversation_id;
    if (this._transcript(cid).add(env)) this._fillGap(cid).catch((e) => this._error(e));
    else if (readNow) this._readLive(cid);
  }

  /** Decrypt in the background what arrived, for the "message" events. */
  _readLive(conversationId) {
    if (!this.keyring) return;
    this.read(conversationId).catch((e) => this._error(e));
  }

  _announce(conversationId, opened) {
    let n = this._announced.get(conversationId) ?? 0;
    if (opened.length < n) n = opened.length; // a re-read from the start
    while (n < opened.length) this._emit("message", { conversationId, ...opened[n++] });
    this._announced.set(conversationId, n);
  }

  /** Fetch what is missing, page by page (`more`); one fill per conversation at a time. */
  _fillGap(conversationId) {
    const running = this._filling.get(conversationId);
    if (running) return running.then(() => this._fillGap(conversationId));
    const fill = (async () => {
      const transcript = this._transcript(conversationId);
      for (;;) {
        const page = await this.history(conversationId, transcript.lastSeq);
        const first = page.first_seq ?? 1;
        if (!transcript.envelopes.length && first > transcript.lastSeq + 1) {
          // An officer's view starts at the handover: nothing before it exists here.
          transcript.startAfter = first - 1;
        }
        for (const env of page.messages) transcript.add(env);
        if (!page.more || !page.messages.length) break;
      }
    })().finally(() => this._filling.delete(conversationId));
    this._filling.set(conversationId, fill);
    return fill.then(() => this._readLive(conversationId));
  }

  async _cryptoFor(conversationId) {
    let crypto = this._crypto.get(conversationId);
    if (!crypto) {
      const ring = this._keyring();
      crypto = new ConversationCrypto(conversationId, () => this.conversationKeys(conversationId),
        (keys) => ring.reader(conversationId, keys), hexEncode(await ring.signing.public.digest()));
      if (!this._crypto.has(conversationId)) this._crypto.set(conversationId, crypto);
      crypto = this._crypto.get(conversationId);
    }
    return crypto;
  }

  _onEpoch(data) {
    const cid = data?.conversation_id;
    const crypto = this._crypto.get(cid);
    if (crypto) crypto._chain.run(() => { crypto.reader = null; }); // re-read with the new key next time
    this._emit("epoch", { conversationId: cid, epoch: data?.epoch });
  }

  _onAssignment(data) {
    const cid = data?.conversation?.conversation_id;
    if (data?.held && cid) this._fillGap(cid).catch((e) => this._error(e));
    this._emit("assignment", data);
  }

  _keyring() {
    if (!this.keyring) throw new ChatError("no_keys", "this console has no device keys: registerDevice() first");
    return this.keyring;
  }

  // -- closing ----------------------------------------------------------------------------
  /** Wipe keys and plaintext, disconnect. The console cannot be used again. */
  close() {
    this._closed = true;
    this.keyring?.wipe();
    this.keyring = null;
    this._crypto.clear();
    this._transcripts.clear();
    this._youthKeys.clear();
    this._token = null;
    const socket = this._socket;
    this._socket = null;
    socket?.removeAllListeners();
    socket?.disconnect();
  }

  _emit(type, detail) { this.dispatchEvent(new DetailEvent(type, detail)); }
  _error(e, code) { this._emit("error", { code: code ?? e?.code ?? "error", message: String(e?.message ?? e) }); }
}
